import { createInbox, type Msg, type NatsConnection } from '@nats-io/transport-node';
import type { RpcContract, RpcRequest, RpcResponse } from '@thk/contracts';
import { formatIssues } from '@thk/contracts';
import { AppError, type AppErrorShape } from '@thk/core';

export type RpcReply<T = unknown> = { ok: true; data: T } | { ok: false; error: AppErrorShape };

interface Waiting {
  subject: string;
  resolve: (data: Uint8Array) => void;
  reject: (error: AppError) => void;
  timer: NodeJS.Timeout;
}

/**
 * Synchronous queries over core NATS request/reply. Nothing here is persisted, which is why the
 * cloud key password may travel this way (and only this way). A timeout or a missing responder
 * surfaces as `service-unavailable` (retryable), never as a hang.
 *
 * Replies come to one subscription per client (`_INBOX.<nuid>.*`, as nats.js's own muxed requests),
 * each call told apart by the last token. nats.js's `request()` does the same, but builds a
 * `RequestError` with a captured stack for every call that succeeds (`RequestOne.cancel()`), ~0.2 ms
 * of CPU each: three calls in the forming call's chain in issuance, one in the gateway.
 */
export class RpcClient {
  private readonly encoder = new TextEncoder();
  private readonly decoder = new TextDecoder();
  /** The reply subscription's subject prefix, once subscribed (the subscription lives as long as the connection). */
  private inbox: string | undefined;
  private readonly waiting = new Map<string, Waiting>();
  private sequence = 0;

  constructor(private readonly nc: NatsConnection, private readonly defaultTimeoutMs = 5_000) {}

  async call<C extends RpcContract<any, any>>(contract: C, request: RpcRequest<C>, options: { timeoutMs?: number } = {}): Promise<RpcResponse<C>> {
    const parsed = contract.request.safeParse(request);
    if (!parsed.success) {
      throw new AppError('validation-failed', `invalid ${contract.name} request: ${formatIssues(parsed.error)}`);
    }
    const replyBytes = await this.request(contract.subject, this.encoder.encode(JSON.stringify(parsed.data)), options.timeoutMs ?? this.defaultTimeoutMs);
    let reply: RpcReply;
    try {
      reply = JSON.parse(this.decoder.decode(replyBytes)) as RpcReply;
    } catch {
      throw new AppError('messaging.bad-reply', `${contract.subject} answered something that is not JSON`, { retryable: false });
    }
    if (!reply || typeof reply !== 'object' || !('ok' in reply)) throw new AppError('messaging.bad-reply', `${contract.subject} answered without a status`);
    if (!reply.ok) throw AppError.fromShape(reply.error);
    const response = contract.response.safeParse(reply.data);
    if (!response.success) {
      throw new AppError('messaging.bad-reply', `${contract.subject} answered a ${contract.name} reply that fails its schema: ${response.error.issues[0]?.message}`);
    }
    return response.data as RpcResponse<C>;
  }

  /** Publishes with a reply subject under this client's inbox and waits for the one answer. */
  private request(subject: string, data: Uint8Array, timeoutMs: number): Promise<Uint8Array> {
    if (this.nc.isClosed()) return Promise.reject(unavailable(subject, 'cannot be asked: the NATS connection is closed'));
    const inbox = this.inbox ??= this.subscribeReplies();
    const token = (++this.sequence).toString(36);
    return new Promise<Uint8Array>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiting.delete(token);
        reject(unavailable(subject, 'did not answer in time'));
      }, timeoutMs);
      this.waiting.set(token, { subject, resolve, reject, timer });
      try {
        this.nc.publish(subject, data, { reply: `${inbox}.${token}` });
      } catch (error) {
        clearTimeout(timer);
        this.waiting.delete(token);
        reject(unavailable(subject, `failed: ${(error as Error).message}`, error));
      }
    });
  }

  /** Subscribes to the replies; the server holds the subscription before the first request (both go out in order on the connection). */
  private subscribeReplies(): string {
    const prefix = createInbox();
    this.nc.subscribe(`${prefix}.*`, {
      callback: (error, msg) => {
        if (error) return; // the subscription ended (the connection closed): the waiting calls time out
        this.answer(prefix, msg);
      },
    });
    return prefix;
  }

  private answer(prefix: string, msg: Msg): void {
    const token = msg.subject.slice(prefix.length + 1);
    const waiting = this.waiting.get(token);
    if (!waiting) return; // late (timed out) or not ours
    this.waiting.delete(token);
    clearTimeout(waiting.timer);
    // The server's "no responders" status (nobody subscribes to the subject): empty, with a 503 header.
    if (msg.data.length === 0 && msg.headers?.code === 503) {
      waiting.reject(unavailable(waiting.subject, 'did not answer in time (no responder)'));
      return;
    }
    waiting.resolve(msg.data);
  }
}

/** A call that got no answer: `service-unavailable`, retryable (the caller may try again shortly). */
function unavailable(subject: string, why: string, cause?: unknown): AppError {
  return new AppError('service-unavailable', `${subject} ${why}; retry shortly`, { retryable: true, meta: { subject }, ...(cause ? { cause } : {}) });
}
