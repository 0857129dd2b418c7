import { errors as natsErrors, type NatsConnection } from '@nats-io/transport-node';
import type { RpcContract, RpcRequest, RpcResponse } from '@thk/contracts';
import { formatIssues } from '@thk/contracts';
import { AppError, type AppErrorShape } from '@thk/core';

export type RpcReply<T = unknown> = { ok: true; data: T } | { ok: false; error: AppErrorShape };

/**
 * Synchronous queries over core NATS request/reply. Nothing here is persisted, which is why the
 * cloud key password may travel this way (and only this way). A timeout or a missing responder
 * surfaces as `service-unavailable` (retryable), never as a hang.
 */
export class RpcClient {
  private readonly encoder = new TextEncoder();
  private readonly decoder = new TextDecoder();

  constructor(private readonly nc: NatsConnection, private readonly defaultTimeoutMs = 5_000) {}

  async call<C extends RpcContract<any, any>>(contract: C, request: RpcRequest<C>, options: { timeoutMs?: number } = {}): Promise<RpcResponse<C>> {
    const parsed = contract.request.safeParse(request);
    if (!parsed.success) {
      throw new AppError('validation-failed', `invalid ${contract.name} request: ${formatIssues(parsed.error)}`);
    }
    let replyBytes: Uint8Array;
    try {
      const msg = await this.nc.request(contract.subject, this.encoder.encode(JSON.stringify(parsed.data)), { timeout: options.timeoutMs ?? this.defaultTimeoutMs });
      replyBytes = msg.data;
    } catch (error) {
      if (error instanceof natsErrors.TimeoutError || error instanceof natsErrors.NoRespondersError || (error as Error)?.name === 'NoRespondersError' || (error as Error)?.name === 'TimeoutError') {
        throw new AppError('service-unavailable', `${contract.subject} did not answer in time; retry shortly`, { retryable: true, meta: { subject: contract.subject } });
      }
      throw new AppError('service-unavailable', `${contract.subject} failed: ${(error as Error).message}`, { retryable: true, meta: { subject: contract.subject }, cause: error });
    }
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
}
