import type { Logger } from '@thk/core';
import type { DataSource, EntityManager } from 'typeorm';
import type { CertificateAuthority } from '../authority/certificate-authority.js';
import { AUTHORITY_ID } from '../authority/built-in/built-in-ca.js';
import type { CertificateRegistry } from '../registry/certificate-registry.js';

export interface CurrentCrl {
  crlNumber: number;
  der: Buffer;
  thisUpdate: Date;
  nextUpdate: Date;
}

export interface CrlSettings {
  validitySeconds: number;
  /** Sign a new CRL when less than this is left before `nextUpdate`. */
  refreshSeconds: number;
}

/**
 * Signs and keeps the CRL. A new CRL is signed in the transaction of every revocation, and by a
 * timer before the current one's `nextUpdate`. The CA row's lock serialises CRL numbers across
 * replicas; whoever holds it re-checks freshness, so replicas do not sign twice.
 */
export class CrlService {
  private timer: NodeJS.Timeout | undefined;
  private refreshing: Promise<unknown> | undefined;

  constructor(
    private readonly dataSource: DataSource,
    private readonly ca: CertificateAuthority,
    private readonly registry: CertificateRegistry,
    private readonly settings: CrlSettings,
    private readonly clock: () => Date,
    private readonly log: Logger,
  ) {}

  /** Signs a CRL with every current revocation, in the caller's transaction. */
  async regenerate(manager: EntityManager, now: Date): Promise<CurrentCrl> {
    const locked: Array<{ crlNumber: string }> = await manager.query(`SELECT crl_number AS "crlNumber" FROM ca_authority WHERE id = $1 FOR UPDATE`, [AUTHORITY_ID]);
    if (!locked[0]) throw new Error('the CA row is missing');
    const crlNumber = Number(locked[0].crlNumber) + 1;
    const entries = await this.registry.revokedEntries(manager, now);
    const thisUpdate = new Date(Math.floor(now.getTime() / 1000) * 1000);
    const nextUpdate = new Date(thisUpdate.getTime() + this.settings.validitySeconds * 1000);
    const der = Buffer.from(await this.ca.signCrl({ thisUpdate, nextUpdate, crlNumber, entries }));
    await manager.query(`INSERT INTO crls (crl_number, this_update, next_update, der, revoked_count) VALUES ($1, $2, $3, $4, $5)`, [crlNumber, thisUpdate, nextUpdate, der, entries.length]);
    await manager.query(`UPDATE ca_authority SET crl_number = $2 WHERE id = $1`, [AUTHORITY_ID, crlNumber]);
    this.log.info({ crlNumber, revoked: entries.length, nextUpdate: nextUpdate.toISOString() }, 'CRL signed');
    return { crlNumber, der, thisUpdate, nextUpdate };
  }

  /** Signs a new CRL when there is none or the current one is within `refreshSeconds` of its nextUpdate. */
  async ensureFresh(): Promise<CurrentCrl> {
    return this.dataSource.transaction(async (m) => {
      await m.query(`SELECT 1 FROM ca_authority WHERE id = $1 FOR UPDATE`, [AUTHORITY_ID]);
      const now = this.clock();
      const latest = await this.latest(m);
      if (latest && latest.nextUpdate.getTime() - now.getTime() > this.settings.refreshSeconds * 1000) return latest;
      return this.regenerate(m, now);
    });
  }

  /** The newest CRL, never one past its nextUpdate. */
  async current(): Promise<CurrentCrl> {
    const latest = await this.latest(this.dataSource);
    if (latest && latest.nextUpdate > this.clock()) return latest;
    return this.ensureFresh();
  }

  private async latest(m: EntityManager | DataSource): Promise<CurrentCrl | null> {
    const rows: Array<{ crlNumber: string; der: Buffer; thisUpdate: Date; nextUpdate: Date }> = await m.query(
      `SELECT crl_number AS "crlNumber", der, this_update AS "thisUpdate", next_update AS "nextUpdate" FROM crls ORDER BY crl_number DESC LIMIT 1`);
    const r = rows[0];
    return r ? { ...r, crlNumber: Number(r.crlNumber) } : null;
  }

  /** Checks freshness now and then every `intervalMs` (default: a quarter of the refresh margin, at most a minute). */
  start(intervalMs = Math.min(60_000, Math.max(1_000, (this.settings.refreshSeconds * 1000) / 4))): void {
    const tick = () => {
      this.refreshing = this.ensureFresh().catch((error) => this.log.warn({ err: error }, 'CRL refresh failed; the next round retries'));
    };
    this.timer = setInterval(tick, intervalMs);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    await this.refreshing;
  }
}
