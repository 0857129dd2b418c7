import { Server, type CustomTransportStrategy, type MessageHandler } from '@nestjs/microservices';
import { jetstream, type ConsumerMessages, type JetStreamManager, type JsMsg } from '@nats-io/jetstream';
import { headers, type NatsConnection, type Subscription } from '@nats-io/transport-node';
import {
  agentIdOfSubject, envelopeSchema, findMessageContract, rpcContracts, subjectMatches, type Envelope, type RpcContract,
} from '@thk/contracts';
import { formatIssues } from '@thk/contracts';
import { AppError, createLogger, describeErrorSafely, toAppError, type Logger } from '@thk/core';
import { lastValueFrom, isObservable } from 'rxjs';
import { connectNats, type NatsConnectionConfig } from './connection.js';
import { JetStreamContext, NatsRpcContext, type JetStreamMessageInfo } from './jetstream.context.js';
import { DEFAULT_ACK_WAIT_MS, DEFAULT_MAX_DELIVER, provisionConsumer, provisionStreams, type ConsumerSpec, type ProvisioningOptions, type StreamSpec } from './provisioning.js';
import type { RpcReply } from './rpc-client.js';
import { Semaphore } from './semaphore.js';

export interface JetStreamServerOptions {
  /** The service name: the `source` of its envelopes and the queue group of its RPC handlers. */
  service: string;
  /** Either a connection to share, or how to open one (then the server owns and closes it). */
  connection: NatsConnection | NatsConnectionConfig;
  /** Streams to create or update at start (default: none; the stack or a provisioning step makes them). */
  streams?: StreamSpec[];
  provisioning?: ProvisioningOptions;
  consumers?: ConsumerSpec[];
  /** Subscribe `@MessagePattern` handlers to their RPC subjects (default true). */
  rpc?: boolean;
  /** Back-off for `nak` after a retryable failure, by delivery count (last value repeats). */
  backoffMs?: number[];
  /** Prefix of dead-letter subjects: `<prefix>.<stream>.<durable>`. */
  deadLetterPrefix?: string;
  /** In-flight RPC calls per replica before new ones wait. */
  rpcConcurrency?: number;
  /** How long `close()` waits for in-flight handlers; unfinished ones are redelivered later (never acked). */
  shutdownTimeoutMs?: number;
  logger?: Logger;
}

export interface DeadLetter {
  reason: string;
  code: string;
  consumer: string;
  stream: string;
  streamSequence: number;
  subject: string;
  deliveryCount: number;
  deadLetteredAt: string;
  /** The original message as received (UTF-8, truncated to 64 KiB). */
  original: string;
}

export interface ConsumerStatus {
  durable: string;
  stream: string;
  state: 'starting' | 'consuming' | 'restarting';
  /** Times the loop was re-opened after it ended. */
  restarts: number;
  lastError?: string;
}

interface ConsumeLoop {
  spec: ConsumerSpec;
  sem: Semaphore;
  messages: ConsumerMessages | undefined;
  done: Promise<void>;
  state: ConsumerStatus['state'];
  restarts: number;
  lastError: string | undefined;
}

const DEFAULT_BACKOFF = [250, 1_000, 5_000, 15_000, 30_000];
/** How long a running handler keeps its message in progress (`working()`) before letting it be redelivered. */
const DEFAULT_MAX_HANDLER_MS = 5 * 60_000;

/** True when a server of this version honours `+TERM <reason>` (added in nats-server 2.10.4). */
export function supportsTermReason(version: string | undefined): boolean {
  const m = /^v?(\d+)\.(\d+)\.(\d+)/.exec(version ?? '');
  if (!m) return false;
  const [major, minor, patch] = [Number(m[1]), Number(m[2]), Number(m[3])];
  return major > 2 || (major === 2 && (minor > 10 || (minor === 10 && patch >= 4)));
}

/**
 * A `@nestjs/microservices` transport over NATS JetStream. Durable pull consumers feed
 * `@EventPattern(contract.subjectPattern)` handlers with the validated envelope; the message is
 * acked only after the handler resolved (its transaction committed), nak'ed with back-off on a
 * retryable error, and terminated to a dead-letter subject when it fails its schema or stays poison.
 * `@MessagePattern(rpcContract.subject)` handlers answer core NATS request/reply.
 */
export class JetStreamServer extends Server implements CustomTransportStrategy {
  private nc: NatsConnection | undefined;
  private ownsConnection = false;
  private readonly consumeLoops: ConsumeLoop[] = [];
  private readonly subscriptions: Subscription[] = [];
  private readonly log: Logger;
  private readonly encoder = new TextEncoder();
  private readonly decoder = new TextDecoder();
  /** Handlers by subject pattern, once found: Nest's own lookup first tries `JSON.parse` on the pattern, a thrown error per message. */
  private readonly handlerCache = new Map<string, MessageHandler>();
  /** The `@EventPattern` subjects, read from Nest's handlers at the first message (all are registered by then). */
  private eventPatterns: string[] | undefined;
  private rpcSem: Semaphore;
  private closed = false;

  constructor(private readonly options: JetStreamServerOptions) {
    super();
    this.log = options.logger ?? createLogger(`${options.service}:jetstream`);
    this.rpcSem = new Semaphore(options.rpcConcurrency ?? 256);
  }

  on(): void { /* no server events are exposed */ }
  unwrap<T>(): T { return this.nc as T; }

  async listen(callback: (error?: unknown) => void): Promise<void> {
    try {
      await this.start();
      callback();
    } catch (error) {
      callback(error);
    }
  }

  get connection(): NatsConnection {
    if (!this.nc) throw new AppError('messaging.not-connected', 'the JetStream server has not started');
    return this.nc;
  }

  private async start(): Promise<void> {
    const conn = this.options.connection;
    if ('publish' in conn && typeof conn.publish === 'function') {
      this.nc = conn as NatsConnection;
    } else {
      this.nc = await connectNats(conn as NatsConnectionConfig);
      this.ownsConnection = true;
    }
    const jsm = await provisionStreams(this.nc, this.options.streams ?? [], this.options.provisioning);
    for (const spec of this.options.consumers ?? []) {
      await provisionConsumer(jsm, spec);
      const loop: ConsumeLoop = { spec, sem: new Semaphore(spec.concurrency ?? 16), messages: undefined, done: Promise.resolve(), state: 'starting', restarts: 0, lastError: undefined };
      this.consumeLoops.push(loop);
      await this.openConsumer(loop);
      loop.done = this.superviseConsumer(loop, jsm);
    }
    if (this.options.rpc ?? true) {
      this.subscribeRpcHandlers();
      // The server knows the subscriptions once this round trip returns: a service that says it has
      // started answers its RPCs at once, never "no responders" to a caller that was waiting for it.
      await this.connection.flush();
    }
  }

  /** Every consumer is consuming (false while one restarts after its loop ended). */
  healthy(): boolean {
    return !this.closed && this.consumeLoops.every((l) => l.state === 'consuming');
  }

  /** The state of each consumer loop, for readiness and diagnostics. */
  consumerStatus(): ConsumerStatus[] {
    return this.consumeLoops.map((l) => ({ durable: l.spec.durable, stream: l.spec.stream, state: l.state, restarts: l.restarts, ...(l.lastError ? { lastError: l.lastError } : {}) }));
  }

  /** A check in the shape of service-kit's `ReadinessCheck` (`readiness.add(server.readinessCheck())`). */
  readinessCheck(name = 'jetstream-consumers'): { name: string; check(): Promise<void> } {
    return {
      name,
      check: async () => {
        if (this.healthy()) return;
        const down = this.consumerStatus().filter((s) => s.state !== 'consuming').map((s) => `${s.durable} ${s.state}`);
        throw new Error(down.length ? down.join(', ') : 'closed');
      },
    };
  }

  private async openConsumer(loop: ConsumeLoop): Promise<void> {
    const consumer = await jetstream(this.connection).consumers.get(loop.spec.stream, loop.spec.durable);
    // A deleted consumer ends the iterator (instead of pulling from nothing forever): the supervisor re-provisions it.
    loop.messages = await consumer.consume({ max_messages: (loop.spec.concurrency ?? 16) * 2, abort_on_missing_resource: true });
    loop.state = 'consuming';
    this.log.info({ stream: loop.spec.stream, durable: loop.spec.durable, filter: loop.spec.filterSubject, concurrency: loop.spec.concurrency ?? 16 }, 'consuming');
  }

  /** Runs a consumer's loop; when it ends while the server is open, re-provisions and re-opens it with back-off. */
  private async superviseConsumer(loop: ConsumeLoop, jsm: JetStreamManager): Promise<void> {
    let attempt = 0;
    while (!this.closed) {
      if (loop.messages) {
        const openedAt = Date.now();
        try {
          for await (const m of loop.messages) {
            await loop.sem.acquire();
            void this.handleJsMessage(m, loop.spec).finally(() => loop.sem.release());
          }
          if (this.closed) return;
          loop.lastError = 'the consume loop ended';
        } catch (error) {
          if (this.closed) return;
          loop.lastError = error instanceof Error ? error.message : String(error);
        }
        loop.messages = undefined;
        if (Date.now() - openedAt > 30_000) attempt = 0; // it ran for a while: start the back-off afresh
      }
      loop.state = 'restarting';
      if (this.connection.isClosed()) {
        // A closed connection never comes back (a lost one reconnects by itself): stay unhealthy.
        this.log.error({ durable: loop.spec.durable, stream: loop.spec.stream, reason: loop.lastError }, 'consume loop ended and the NATS connection is closed; not restarting');
        return;
      }
      const delay = Math.min(250 * 2 ** attempt, 10_000);
      attempt++;
      this.log.error({ durable: loop.spec.durable, stream: loop.spec.stream, reason: loop.lastError, retryInMs: delay }, 'consume loop ended; restarting it');
      await new Promise((r) => setTimeout(r, delay).unref());
      if (this.closed) return;
      try {
        await provisionConsumer(jsm, loop.spec);
        await this.openConsumer(loop);
        loop.restarts++;
      } catch (error) {
        loop.lastError = error instanceof Error ? error.message : String(error);
      }
    }
  }

  private async handleJsMessage(m: JsMsg, spec: ConsumerSpec): Promise<void> {
    const maxDeliver = spec.maxDeliver ?? DEFAULT_MAX_DELIVER;
    // The server allows one delivery more than maxDeliver (provisioning): a message whose earlier
    // deliveries ended without an outcome (the process crashed, the handler hung) is dead-lettered
    // here instead of being dropped silently by the server's max_deliver.
    if (m.info.deliveryCount > maxDeliver) {
      await this.deadLetter(m, spec, new AppError('messaging.max-deliveries', `delivered ${m.info.deliveryCount} times without an outcome (the handler crashed or outlived its ack wait each time)`));
      return;
    }
    if (!this.takesSubject(m.subject)) {
      // The consumer's filter is wider than what this service handles (issuance's `agent.*.evt.>` brings
      // the agents' inventory reports too): acked unread. Parsing and validating it is the business of the service
      // that takes it, which dead-letters it if it must.
      m.ack();
      return;
    }
    const base = { subject: m.subject, stream: spec.stream, durable: spec.durable, streamSequence: m.seq, deliveryCount: m.info.deliveryCount };
    let envelope: Envelope;
    let pattern: string;
    try {
      ({ envelope, pattern } = this.decode(m));
    } catch (error) {
      await this.deadLetter(m, spec, toAppError(error));
      return;
    }
    const handler = this.handlerFor(pattern);
    if (!handler) {
      // The subject is one a handler takes, but the envelope's contract is another that this service
      // does not handle (two contracts on one subject): nothing to do.
      m.ack();
      return;
    }
    const info: JetStreamMessageInfo = { ...base, agentId: agentIdOfSubject(m.subject), envelope };
    // While the handler runs, tell the server it is in progress so it is not redelivered to another replica.
    const ackWaitMs = spec.ackWaitMs ?? DEFAULT_ACK_WAIT_MS;
    // Bounded: a handler that hangs must not hold its message forever; past the bound the server
    // redelivers it (to this or another replica) and the inbox keeps its effect single.
    const startedAt = Date.now();
    const maxHandlerMs = spec.maxHandlerMs ?? DEFAULT_MAX_HANDLER_MS;
    const heartbeat = setInterval(() => {
      if (Date.now() - startedAt > maxHandlerMs) {
        clearInterval(heartbeat);
        this.log.warn({ subject: m.subject, type: envelope.type, id: envelope.id, runningMs: Date.now() - startedAt }, 'handler still running: no longer holding its message, the server will redeliver it');
        return;
      }
      try { m.working(); } catch { /* connection gone: the message comes back */ }
    }, Math.max(100, Math.floor(ackWaitMs / 3)));
    heartbeat.unref();
    try {
      try {
        const result = await handler(envelope, new JetStreamContext([info]));
        if (isObservable(result)) await lastValueFrom(result, { defaultValue: undefined });
      } finally {
        clearInterval(heartbeat);
      }
      // A plain ack, not a double one: waiting for the server to confirm it costs a round trip and a
      // reply to handle for every message, and buys nothing here. A lost ack means a redelivery, which
      // every handler absorbs (the inbox, or the agent's journal) exactly like one after a crash.
      try { m.ack(); } catch { /* the connection is gone: the message comes back and is absorbed */ }
    } catch (raw) {
      // An unknown error's message may carry a secret: it goes neither to the log nor to the dead letter.
      let error: AppError;
      if (raw instanceof AppError) {
        error = raw;
      } else {
        const described = describeErrorSafely(raw);
        this.log.error({ error: described, subject: m.subject, id: envelope.id }, 'event handler failed with an unexpected error');
        error = new AppError('internal', `unexpected ${described['type'] as string}`, { retryable: true });
      }
      if (!error.retryable || m.info.deliveryCount >= maxDeliver) {
        const reason = error.retryable ? `gave up after ${m.info.deliveryCount} deliveries: ${error.message}` : error.message;
        await this.deadLetter(m, spec, new AppError(error.code, reason));
        return;
      }
      const backoff = this.options.backoffMs ?? DEFAULT_BACKOFF;
      const delay = backoff[Math.min(m.info.deliveryCount - 1, backoff.length - 1)] ?? 1_000;
      this.log.warn({ code: error.code, subject: m.subject, type: envelope.type, id: envelope.id, delivery: m.info.deliveryCount, delayMs: delay }, `handler failed, will retry: ${error.message}`);
      m.nak(delay);
    }
  }

  /** Does an `@EventPattern` of this service match the subject? */
  private takesSubject(subject: string): boolean {
    this.eventPatterns ??= [...this.getHandlers()].filter(([, h]) => h.isEventHandler).map(([p]) => p);
    return this.eventPatterns.some((p) => subjectMatches(p, subject));
  }

  /** The handler of a pattern (Nest's `getHandlerByPattern`), cached once found; a missing one is looked up again next time. */
  private handlerFor(pattern: string): MessageHandler | null {
    const cached = this.handlerCache.get(pattern);
    if (cached) return cached;
    const handler = this.getHandlerByPattern(pattern);
    if (handler) this.handlerCache.set(pattern, handler);
    return handler;
  }

  /** Parses and validates the envelope and its data; upcasts older versions. */
  private decode(m: JsMsg): { envelope: Envelope; pattern: string } {
    let json: unknown;
    try {
      json = JSON.parse(this.decoder.decode(m.data));
    } catch {
      throw new AppError('messaging.malformed', 'message body is not JSON');
    }
    const env = envelopeSchema.safeParse(json);
    if (!env.success) throw new AppError('messaging.invalid-envelope', `envelope fails its schema: ${formatIssues(env.error)}`);
    const found = findMessageContract(env.data.type, env.data.version);
    if (!found) throw new AppError('messaging.unknown-type', `unknown message type ${env.data.type} v${env.data.version}`);
    if (!subjectMatches(found.contract.subjectPattern, m.subject)) {
      throw new AppError('messaging.subject-mismatch', `${env.data.type} is not allowed on subject ${m.subject}`);
    }
    const data = found.schema.safeParse(env.data.data);
    if (!data.success) throw new AppError('messaging.invalid-data', `${env.data.type} v${env.data.version} fails its schema: ${formatIssues(data.error)}`);
    const upcast = found.upcast ? found.upcast(data.data) : data.data;
    return { envelope: { ...env.data, version: found.contract.version, data: upcast }, pattern: found.contract.subjectPattern };
  }

  private async deadLetter(m: JsMsg, spec: ConsumerSpec, error: AppError): Promise<void> {
    const prefix = this.options.deadLetterPrefix ?? 'dlq';
    const subject = `${prefix}.${spec.stream}.${spec.durable}`;
    const letter: DeadLetter = {
      reason: error.message,
      code: error.code,
      consumer: spec.durable,
      stream: spec.stream,
      streamSequence: m.seq,
      subject: m.subject,
      deliveryCount: m.info.deliveryCount,
      deadLetteredAt: new Date().toISOString(),
      original: this.decoder.decode(m.data.subarray(0, 65_536)),
    };
    try {
      const h = headers();
      h.set('Thk-Dead-Letter-Reason', error.code);
      await jetstream(this.connection).publish(subject, this.encoder.encode(JSON.stringify(letter)), { msgID: `dlq:${spec.stream}:${spec.durable}:${m.seq}`, headers: h });
    } catch (publishError) {
      // Without a dead letter we must not drop the message: let it come back.
      this.log.error({ err: publishError, subject }, 'could not dead-letter; will retry the message');
      m.nak(5_000);
      return;
    }
    this.log.warn({ code: error.code, subject: m.subject, seq: m.seq, deadLetter: subject }, `dead-lettered: ${error.message}`);
    // `+TERM <reason>` is understood from nats-server 2.10.4; older servers (Debian's 2.9.10) ignore
    // the whole ack and redeliver the message every ack_wait until max_deliver. Plain TERM there.
    if (supportsTermReason(this.connection.info?.version)) m.term(error.code);
    else m.term();
  }

  private subscribeRpcHandlers(): void {
    const contracts = new Map<string, RpcContract<any, any>>(rpcContracts.map((c) => [c.subject, c]));
    for (const [pattern, handler] of this.getHandlers()) {
      if (handler.isEventHandler) continue;
      const contract = contracts.get(pattern);
      if (!contract) throw new AppError('messaging.unknown-rpc', `@MessagePattern(${pattern}) names no RPC contract`);
      const sub = this.connection.subscribe(pattern, {
        queue: this.options.service,
        callback: (err, msg) => {
          if (err) { this.log.error({ err }, 'rpc subscription error'); return; }
          void this.rpcSem.use(async () => {
            const reply = await this.answerRpc(contract, msg.data, pattern);
            if (msg.reply) msg.respond(this.encoder.encode(JSON.stringify(reply)));
          });
        },
      });
      this.subscriptions.push(sub);
      this.log.info({ subject: pattern, queue: this.options.service }, 'answering');
    }
  }

  private async answerRpc(contract: RpcContract<any, any>, bytes: Uint8Array, subject: string): Promise<RpcReply> {
    let request: unknown;
    try {
      request = JSON.parse(this.decoder.decode(bytes));
    } catch {
      return { ok: false, error: { code: 'validation-failed', message: 'request is not JSON', retryable: false } };
    }
    const parsed = contract.request.safeParse(request);
    if (!parsed.success) {
      return { ok: false, error: { code: 'validation-failed', message: formatIssues(parsed.error), retryable: false } };
    }
    const handler = this.handlerFor(subject);
    if (!handler) return { ok: false, error: { code: 'internal', message: 'no handler', retryable: false } };
    try {
      let result = await handler(parsed.data, new NatsRpcContext([{ subject }]));
      if (isObservable(result)) result = await lastValueFrom(result, { defaultValue: undefined });
      const response = contract.response.safeParse(result);
      if (!response.success) {
        this.log.error({ subject, issues: response.error.issues.slice(0, 5) }, 'handler answered a reply that fails its schema');
        return { ok: false, error: { code: 'internal', message: 'the service produced an invalid answer', retryable: false } };
      }
      return { ok: true, data: response.data };
    } catch (raw) {
      if (raw instanceof AppError) return { ok: false, error: raw.toShape() };
      // Unknown errors may carry anything (even a secret from a driver message): log their class, code
      // and stack frames but never their message, and answer generically.
      this.log.error({ error: describeErrorSafely(raw), subject }, 'rpc handler failed');
      return { ok: false, error: { code: 'internal', message: 'internal error; retry later', retryable: true } };
    }
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const sub of this.subscriptions) sub.unsubscribe();
    for (const loop of this.consumeLoops) {
      await loop.messages?.close().catch(() => undefined);
    }
    const budget = this.options.shutdownTimeoutMs ?? 10_000;
    const drained = await Promise.all([...this.consumeLoops.map((l) => l.sem.idle(budget)), this.rpcSem.idle(budget)]);
    if (drained.includes(false)) this.log.warn('in-flight handlers did not finish before shutdown; their messages will be redelivered');
    if (this.ownsConnection && this.nc) await this.nc.drain().catch(() => undefined);
  }
}
