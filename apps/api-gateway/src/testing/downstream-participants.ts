import { connect, type NatsConnection, type Subscription } from '@nats-io/transport-node';
import {
  formatIssues, HardwareKeyRequestProgressedV1, type RpcContract, type RpcRequest, type RpcResponse,
} from '@thk/contracts';
import { AppError } from '@thk/core';
import { MessagePublisher } from '@thk/messaging';

type Handler<C extends RpcContract<any, any>> = (request: RpcRequest<C>) => RpcResponse<C> | Promise<RpcResponse<C>>;

export interface RecordedCall { subject: string; request: unknown }

/**
 * The downstream services of the gateway's tests, played on a real NATS server: each answers
 * its RPC subject per the contract (request validated, response validated, refusals as AppError
 * shapes), exactly as the JetStream transport of the real services does. `silence` keeps a
 * subscriber that never answers (a hung service); `unanswered` leaves no responder at all.
 */
export class DownstreamParticipants {
  readonly calls: RecordedCall[] = [];
  readonly invalidRequests: Array<{ subject: string; issues: string }> = [];
  private readonly subs = new Map<string, Subscription>();
  private readonly encoder = new TextEncoder();
  private readonly decoder = new TextDecoder();
  private readonly publisher: MessagePublisher;
  /** A subscription changed since the last flush: the server may not hold it yet. */
  private changed = false;

  private constructor(readonly nc: NatsConnection) {
    this.publisher = new MessagePublisher(nc);
  }

  static async start(natsUrl: string): Promise<DownstreamParticipants> {
    return new DownstreamParticipants(await connect({ servers: natsUrl, name: 'gateway-test-participants', reconnectTimeWait: 100, maxReconnectAttempts: -1 }));
  }

  answer<C extends RpcContract<any, any>>(contract: C, handler: Handler<C>): void {
    this.unanswered(contract);
    const sub = this.nc.subscribe(contract.subject, {
      callback: (err, msg) => {
        if (err) return;
        void (async () => {
          const request = JSON.parse(this.decoder.decode(msg.data)) as unknown;
          this.calls.push({ subject: contract.subject, request });
          const parsed = contract.request.safeParse(request);
          let reply: unknown;
          if (!parsed.success) {
            this.invalidRequests.push({ subject: contract.subject, issues: formatIssues(parsed.error) });
            reply = { ok: false, error: { code: 'validation-failed', message: formatIssues(parsed.error), retryable: false } };
          } else {
            try {
              const data = await handler(parsed.data as RpcRequest<C>);
              const checked = contract.response.safeParse(data);
              if (!checked.success) throw new Error(`test participant answered an invalid ${contract.name}: ${formatIssues(checked.error)}`);
              reply = { ok: true, data: checked.data };
            } catch (error) {
              reply = error instanceof AppError
                ? { ok: false, error: error.toShape() }
                : { ok: false, error: { code: 'internal', message: (error as Error).message, retryable: true } };
            }
          }
          msg.respond(this.encoder.encode(JSON.stringify(reply)));
        })();
      },
    });
    this.subs.set(contract.subject, sub);
    this.changed = true;
  }

  /** A service that receives the call and never answers. */
  silence(contract: RpcContract<any, any>): void {
    this.unanswered(contract);
    this.subs.set(contract.subject, this.nc.subscribe(contract.subject, { callback: (_e, msg) => { this.calls.push({ subject: contract.subject, request: JSON.parse(this.decoder.decode(msg.data)) }); } }));
    this.changed = true;
  }

  /** No responder at all (the service is down). */
  unanswered(contract: RpcContract<any, any>): void {
    this.subs.get(contract.subject)?.unsubscribe();
    this.subs.delete(contract.subject);
    this.changed = true;
  }

  callsTo(contract: RpcContract<any, any>): unknown[] {
    return this.calls.filter((c) => c.subject === contract.subject).map((c) => c.request);
  }

  async publishProgress(data: HardwareKeyRequestProgressedV1): Promise<void> {
    await this.publisher.emit(HardwareKeyRequestProgressedV1, undefined, data, { source: 'issuance', correlationId: data.requestId });
  }

  /** Returns once the server holds every subscription change made so far (they travel on this connection, the calls on another). */
  async flush(): Promise<void> {
    this.changed = false;
    await this.nc.flush();
  }

  /** `flush`, only when a subscription changed since the last one: the harness runs it before every HTTP call. */
  async settled(): Promise<void> {
    if (this.changed) await this.flush();
  }

  async close(): Promise<void> {
    // A test may have stopped the server: closing must not fail then.
    await this.nc.drain().catch(() => this.nc.close());
  }
}
