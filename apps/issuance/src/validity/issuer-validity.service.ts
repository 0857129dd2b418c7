import { GetCaCertificateV1 } from '@thk/contracts';
import { AppError, createLogger, type Logger } from '@thk/core';
import type { RpcClient } from '@thk/messaging';
import type { Clock } from '../config/issuance.config.js';

/**
 * The issuing CA certificate's notAfter, which caps every temporary certificate. Asked of the CA
 * gateway (`GetCaCertificateV1`) and cached; a failed refresh keeps answering the last known value
 * (a CA certificate's end does not move), and only with nothing known does it answer
 * `service-unavailable`.
 */
export class IssuerValidity {
  private cached: { notAfter: Date; fetchedAt: number } | undefined;
  private inflight: Promise<Date> | undefined;
  private readonly log: Logger;

  constructor(private readonly rpc: RpcClient, private readonly clock: Clock, private readonly ttlMs: number, private readonly timeoutMs: number, logger?: Logger) {
    this.log = logger ?? createLogger('issuance:issuer');
  }

  async notAfter(): Promise<Date> {
    const now = this.clock().getTime();
    if (this.cached && now - this.cached.fetchedAt < this.ttlMs) return this.cached.notAfter;
    try {
      return await this.refresh();
    } catch (error) {
      if (this.cached) {
        this.log.warn({ err: error }, 'could not refresh the issuing CA certificate; using the last known notAfter');
        return this.cached.notAfter;
      }
      const e = error as AppError;
      throw new AppError('service-unavailable', 'the certificate authority did not tell its certificate\'s validity; retry shortly', { retryable: true, meta: { cause: e.code ?? 'unknown' } });
    }
  }

  /** Fetches now (one call at a time); used at start so the first request need not wait. */
  refresh(): Promise<Date> {
    this.inflight ??= this.rpc.call(GetCaCertificateV1, {}, { timeoutMs: this.timeoutMs })
      .then((reply) => {
        const notAfter = new Date(reply.notAfter);
        this.cached = { notAfter, fetchedAt: this.clock().getTime() };
        return notAfter;
      })
      .finally(() => { this.inflight = undefined; });
    return this.inflight;
  }
}
