import type { z } from 'zod';

export type MessageKind = 'event' | 'command';

/**
 * A persisted message (event or command) carried by JetStream. `subjectPattern` is also the
 * Nest handler pattern; `subject()` builds the concrete subject (agent messages carry the agent id).
 */
export interface MessageContract<TType extends string = string, TSchema extends z.ZodType = z.ZodType, TParams = void> {
  readonly kind: MessageKind;
  readonly type: TType;
  readonly version: number;
  readonly subjectPattern: string;
  readonly schema: TSchema;
  subject(params: TParams): string;
  /** Older versions of this message, upcast to this one at the boundary. */
  readonly upcasters?: ReadonlyArray<{ version: number; schema: z.ZodType; upcast(data: unknown): z.infer<TSchema> }>;
}

export type MessageData<C> = C extends MessageContract<string, infer S, any> ? z.infer<S> : never;

export function defineMessage<TType extends string, TSchema extends z.ZodType>(def: {
  kind: MessageKind; type: TType; version: number; subject: string; schema: TSchema;
}): MessageContract<TType, TSchema, void> {
  return { ...def, subjectPattern: def.subject, subject: () => def.subject };
}

/** A message under `agent.<agentId>.…`: only that agent may publish (evt) or receive (cmd) it. */
export function defineAgentMessage<TType extends string, TSchema extends z.ZodType>(def: {
  kind: MessageKind; type: TType; version: number; name: string; schema: TSchema;
}): MessageContract<TType, TSchema, { agentId: string }> {
  const part = def.kind === 'event' ? 'evt' : 'cmd';
  return {
    kind: def.kind, type: def.type, version: def.version, schema: def.schema,
    subjectPattern: `agent.*.${part}.${def.name}.v${def.version}`,
    subject: ({ agentId }) => `agent.${agentId}.${part}.${def.name}.v${def.version}`,
  };
}

/** A synchronous query or command over core NATS request/reply (never persisted: may carry a password). */
export interface RpcContract<TReq extends z.ZodType = z.ZodType, TRes extends z.ZodType = z.ZodType> {
  readonly kind: 'rpc';
  readonly name: string;
  readonly version: number;
  readonly subject: string;
  readonly request: TReq;
  readonly response: TRes;
  /** Error codes this call may answer with, besides infrastructure ones. */
  readonly errors: readonly string[];
}

export type RpcRequest<C> = C extends RpcContract<infer Q, any> ? z.infer<Q> : never;
export type RpcResponse<C> = C extends RpcContract<any, infer R> ? z.infer<R> : never;

export function defineRpc<TReq extends z.ZodType, TRes extends z.ZodType>(def: {
  context: string; name: string; version: number; request: TReq; response: TRes; errors?: readonly string[];
}): RpcContract<TReq, TRes> {
  return {
    kind: 'rpc', name: def.name, version: def.version, request: def.request, response: def.response,
    errors: def.errors ?? [], subject: `${def.context}.rpc.${def.name}.v${def.version}`,
  };
}

/** One readable line for a failed parse: `path: message; path: message`. */
export function formatIssues(error: { issues: ReadonlyArray<{ path: ReadonlyArray<PropertyKey>; message: string }> }, max = 5): string {
  return error.issues.slice(0, max).map((i) => `${i.path.map(String).join('.') || '(root)'}: ${i.message}`).join('; ');
}
