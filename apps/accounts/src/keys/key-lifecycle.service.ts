import { KeyStatusChangedV1, RevokeCertificateV1, type KeyStatus } from '@thk/contracts';
import { AppError, createLogger, type Logger } from '@thk/core';
import { createEnvelope } from '@thk/messaging';
import type { Transaction, UnitOfWork } from '@thk/persistence';
import { KeyAccountEntity } from '../persistence/index.js';
import { effectiveStatus } from './key-state.js';

/** The message that caused a change: its ids become the correlation and causation of what we emit. */
export interface Cause { correlationId: string; causationId: string | null }

export const SOURCE = 'accounts';

/** Statuses of a base key that its temporary keys follow. */
const FOLLOWED: ReadonlySet<KeyStatus> = new Set(['blocked', 'revoked', 'expired']);

/**
 * Every status change of a key account goes through here: a guarded update (so a change happens
 * once even when two replicas race), a `KeyStatusChanged` event in the same transaction, and the
 * cascade from a base key to the temporary keys formed from it.
 */
export class KeyLifecycle {
  private readonly log: Logger;

  constructor(private readonly uow: UnitOfWork, private readonly clock: () => Date, logger?: Logger) {
    this.log = logger ?? createLogger('accounts:lifecycle');
  }

  /** Announces a key that has just been inserted with `key.status`. */
  announceCreated(tx: Transaction, key: KeyAccountEntity, cause: Cause): void {
    this.emitStatus(tx, key, null, key.status, key.statusReason, cause);
  }

  /**
   * Moves `key` from its current status (as loaded) to `status`. Returns false when someone else
   * changed it first; `extra` columns are written in the same update.
   */
  async changeStatus(tx: Transaction, key: KeyAccountEntity, status: KeyStatus, reason: string | null, cause: Cause, extra: Partial<KeyAccountEntity> = {}): Promise<boolean> {
    const previous = key.status;
    const now = this.clock();
    const result = await tx.manager.createQueryBuilder().update(KeyAccountEntity)
      .set({ ...extra, status, statusReason: reason, statusChangedAt: now, version: () => 'version + 1' })
      .where('id = :id AND status = :previous', { id: key.id, previous })
      .execute();
    if (!result.affected) return false;
    Object.assign(key, extra, { status, statusReason: reason, statusChangedAt: now, version: key.version + 1 });
    this.emitStatus(tx, key, previous, status, reason, cause);
    if (!key.temporary && FOLLOWED.has(status)) await this.cascade(tx, key, status, cause);
    return true;
  }

  /** Applies what a base key's status means to one temporary key formed from it (used on formation too). */
  async follow(tx: Transaction, temporary: KeyAccountEntity, base: KeyAccountEntity, cause: Cause): Promise<void> {
    const baseStatus = effectiveStatus(base, this.clock());
    if (!FOLLOWED.has(baseStatus) || temporary.status !== 'active') return;
    const now = this.clock();
    switch (baseStatus) {
      case 'blocked':
        await this.changeStatus(tx, temporary, 'blocked', 'base-key-blocked', cause);
        return;
      case 'revoked':
        if (temporary.certSerial) {
          tx.emit({
            subject: RevokeCertificateV1.subject(),
            envelope: createEnvelope(RevokeCertificateV1, {
              serialNumber: temporary.certSerial,
              reason: 'cessationOfOperation',
              requestedBy: 'accounts:base-key-revoked',
              comment: `base key ${base.id} was revoked`,
            }, { source: SOURCE, ...cause }),
          });
        }
        await this.changeStatus(tx, temporary, 'revoked', 'base-key-revoked', cause);
        return;
      case 'expired': {
        const ownEnded = temporary.certNotAfter !== null && temporary.certNotAfter.getTime() <= now.getTime();
        await this.changeStatus(tx, temporary, 'expired', ownEnded ? 'certificate-expired' : 'base-key-expired', cause);
        return;
      }
      default:
        return;
    }
  }

  private async cascade(tx: Transaction, base: KeyAccountEntity, status: KeyStatus, cause: Cause): Promise<void> {
    const temporaries = await tx.manager.find(KeyAccountEntity, {
      where: { baseKeyId: base.id, status: 'active' },
      lock: { mode: 'pessimistic_write' },
      order: { createdAt: 'ASC', id: 'ASC' },
    });
    for (const temporary of temporaries) await this.follow(tx, temporary, base, cause);
    if (temporaries.length) this.log.info({ baseKeyId: base.id, status, followed: temporaries.length }, 'temporary keys followed their base key');
  }

  /** Operator command: blocks an active key (its temporary keys follow). Blocking a blocked key changes nothing. */
  async block(keyId: string, operator: string, reason: string): Promise<{ keyId: string; status: KeyStatus; changed: boolean }> {
    const result = await this.uow.run(async (tx) => {
      const key = await tx.manager.findOne(KeyAccountEntity, { where: { id: keyId }, lock: { mode: 'pessimistic_write' } });
      if (!key) throw new AppError('not-found', 'no such key', { meta: { keyId } });
      if (key.status === 'blocked') return { keyId, status: key.status, changed: false };
      const status = effectiveStatus(key, this.clock());
      if (status !== 'active') throw new AppError('key-not-eligible', `a ${status} key cannot be blocked`, { meta: { keyId, status } });
      await this.changeStatus(tx, key, 'blocked', `blocked by ${operator}: ${reason}`, { correlationId: keyId, causationId: null });
      this.log.info({ keyId, operator }, 'key blocked by an operator');
      return { keyId, status: key.status, changed: true };
    });
    if (!result.applied) throw new Error('unreachable: no inbox key');
    return result.value;
  }

  /**
   * Persists `expired` for every key still marked active past its certificate's notAfter, in
   * batches; replicas skip each other's locked rows. Returns how many keys it expired.
   */
  async sweepExpired(batchSize = 200): Promise<number> {
    let total = 0;
    for (;;) {
      const result = await this.uow.run(async (tx) => {
        const now = this.clock();
        const due = await tx.manager.createQueryBuilder(KeyAccountEntity, 'k')
          .where(`k.status = 'active' AND k.certNotAfter <= :now`, { now })
          .orderBy('k.certNotAfter', 'ASC')
          .limit(batchSize)
          .setLock('pessimistic_write').setOnLocked('skip_locked')
          .getMany();
        let changed = 0;
        for (const key of due) {
          // A base earlier in this batch may already have expired it through the cascade.
          if (await this.changeStatus(tx, key, 'expired', 'certificate-expired', { correlationId: key.id, causationId: null })) changed++;
        }
        return { found: due.length, changed };
      });
      if (!result.applied) break;
      total += result.value.changed;
      if (result.value.found < batchSize) break;
    }
    if (total) this.log.info({ expired: total }, 'expiry sweep persisted expired keys');
    return total;
  }

  private emitStatus(tx: Transaction, key: KeyAccountEntity, previous: KeyStatus | null, status: KeyStatus, reason: string | null, cause: Cause): void {
    tx.emit({
      subject: KeyStatusChangedV1.subject(),
      envelope: createEnvelope(KeyStatusChangedV1, {
        keyId: key.id,
        userId: key.userId,
        baseKeyId: key.baseKeyId,
        previousStatus: previous,
        status,
        reason: reason === null ? null : reason.slice(0, 200),
        at: key.statusChangedAt.toISOString(),
      }, { source: SOURCE, ...cause }),
    });
  }
}
