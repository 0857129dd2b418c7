import { KeyStatusChangedV1, RevokeCertificateV1, type KeyStatus } from '@thk/contracts';
import { AppError, createLogger, type Logger } from '@thk/core';
import { createEnvelope, type OutgoingMessage } from '@thk/messaging';
import type { Transaction, UnitOfWork } from '@thk/persistence';
import { In } from 'typeorm';
import { KeyAccountEntity, keyAccountAssignments, keyAccountOfRow, type KeyAccountRow } from '../persistence/index.js';
import { effectiveStatus } from './key-state.js';

/** The message that caused a change: its ids become the correlation and causation of what we emit. */
export interface Cause { correlationId: string; causationId: string | null }

export const SOURCE = 'accounts';

/** Statuses of a base key that its temporary keys follow. */
const FOLLOWED: ReadonlySet<KeyStatus> = new Set(['blocked', 'revoked', 'expired']);
/** Statuses of a temporary key whose certificate a revoked base key revokes (a certificate still in force). */
const REVOCABLE: ReadonlySet<KeyStatus> = new Set(['active', 'blocked']);

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
    const moved = await this.changeStatusOf(tx, { id: key.id, userId: key.userId, from: key.status }, status, reason, cause, extra);
    if (moved) Object.assign(key, moved);
    return moved !== null;
  }

  /**
   * `changeStatus` of a key that is not loaded: moves key `id` of `userId` if it still has status `from`,
   * and returns it as it is now; null when it does not (absent, another user's, or in another status).
   * An issuance event usually finds its key waiting in `pending`: one `UPDATE … RETURNING` then does what a
   * locked load and an update did, because the update takes the row lock and, having waited for it,
   * checks the status on the row's newest version (READ COMMITTED), exactly as a load after the lock would.
   * Plain SQL, as on the rest of the issuance events' path (see `HardwareKeyEvents`).
   */
  async changeStatusOf(
    tx: Transaction,
    target: { id: string; userId: string; from: KeyStatus },
    status: KeyStatus,
    reason: string | null,
    cause: Cause,
    extra: Partial<KeyAccountEntity> = {},
  ): Promise<KeyAccountEntity | null> {
    const set = keyAccountAssignments({ ...extra, status, statusReason: reason, statusChangedAt: this.clock() }, 4);
    // A CTE, because TypeORM answers a bare UPDATE with [rows, count] instead of the rows.
    const rows: KeyAccountRow[] = await tx.manager.query(
      `WITH moved AS (UPDATE key_accounts SET ${set.sql}, version = version + 1 WHERE id = $1 AND user_id = $2 AND status = $3 RETURNING *)
      SELECT * FROM moved`,
      [target.id, target.userId, target.from, ...set.params],
    );
    if (!rows[0]) return null;
    const key = keyAccountOfRow(rows[0]);
    this.emitStatus(tx, key, target.from, status, reason, cause);
    if (!key.temporary && FOLLOWED.has(status)) await this.cascade(tx, key, status, cause);
    return key;
  }

  /**
   * Applies what a base key's status means to one temporary key formed from it (used on formation
   * too). A revoked base revokes the certificate of every temporary key that still has one in force,
   * whatever its status: an active key, and a blocked one (blocked with its base earlier, or by an
   * operator), whose certificate would otherwise stay valid. Blocked and expired bases only move
   * active temporary keys. A pending key has no certificate yet: it follows when it is formed.
   */
  async follow(tx: Transaction, temporary: KeyAccountEntity, base: KeyAccountEntity, cause: Cause): Promise<void> {
    const baseStatus = effectiveStatus(base, this.clock());
    if (!FOLLOWED.has(baseStatus)) return;
    if (baseStatus === 'revoked' ? !REVOCABLE.has(temporary.status) : temporary.status !== 'active') return;
    const now = this.clock();
    switch (baseStatus) {
      case 'blocked':
        await this.changeStatus(tx, temporary, 'blocked', 'base-key-blocked', cause);
        return;
      case 'revoked':
        if (!await this.changeStatus(tx, temporary, 'revoked', 'base-key-revoked', cause)) return;
        if (temporary.certSerial && !temporary.certRevokedAt) {
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

  /**
   * Locks the temporary keys of `base` that its new status moves (waiting for them), and moves them.
   *
   * Lock order, the same everywhere: a base key first, then its temporary keys. Every cascading path
   * (operator block, CA revocation, the sweep's bases) holds the base when it gets here; the
   * temporary keys of two different bases are disjoint, so two cascades never wait for each other.
   * Paths that lock a temporary key without its base (issuance events, an operator or the CA acting
   * on that key, the sweep's first phase) wait for no lock after it, so they cannot close a cycle
   * either; the sweep's first phase does not even wait for that one (SKIP LOCKED, see `sweepExpired`).
   */
  private async cascade(tx: Transaction, base: KeyAccountEntity, status: KeyStatus, cause: Cause): Promise<void> {
    const temporaries = await tx.manager.find(KeyAccountEntity, {
      where: { baseKeyId: base.id, status: In(status === 'revoked' ? [...REVOCABLE] : ['active']) },
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
   *
   * Two phases keep the lock order of `cascade` (base, then its temporary keys). Temporary keys
   * first, in transactions that lock only due temporary keys with SKIP LOCKED and cascade nothing,
   * so they never wait for anyone. Then base keys (SKIP LOCKED too), whose cascade waits only for
   * temporary keys of the bases this transaction holds. Sweeping both kinds in one batch, in
   * notAfter order, could deadlock two replicas: each holding a due temporary key that the other's
   * base cascade waits for, while waiting for one the other holds.
   */
  async sweepExpired(batchSize = 200): Promise<number> {
    const temporaries = await this.sweepDue(true, batchSize);
    const total = temporaries + await this.sweepDue(false, batchSize);
    if (total) this.log.info({ expired: total }, 'expiry sweep persisted expired keys');
    return total;
  }

  private async sweepDue(temporary: boolean, batchSize: number): Promise<number> {
    let total = 0;
    for (;;) {
      const result = await this.uow.run(async (tx) => {
        const now = this.clock();
        const due = await tx.manager.createQueryBuilder(KeyAccountEntity, 'k')
          .where(`k.status = 'active' AND k.certNotAfter <= :now AND k.temporary = :temporary`, { now, temporary })
          .orderBy('k.certNotAfter', 'ASC')
          .limit(batchSize)
          .setLock('pessimistic_write').setOnLocked('skip_locked')
          .getMany();
        let changed = 0;
        for (const key of due) {
          if (await this.changeStatus(tx, key, 'expired', 'certificate-expired', { correlationId: key.id, causationId: null })) changed++;
        }
        return { found: due.length, changed };
      });
      if (!result.applied) break;
      total += result.value.changed;
      if (result.value.found < batchSize) break;
    }
    return total;
  }

  private emitStatus(tx: Transaction, key: KeyAccountEntity, previous: KeyStatus | null, status: KeyStatus, reason: string | null, cause: Cause): void {
    tx.emit(statusChanged(key, previous, status, reason, cause));
  }
}

/** The `KeyStatusChanged` of `key` (as it is after the change) from `previous` to `status`. */
export function statusChanged(key: Pick<KeyAccountEntity, 'id' | 'userId' | 'baseKeyId' | 'statusChangedAt'>, previous: KeyStatus | null, status: KeyStatus, reason: string | null, cause: Cause): OutgoingMessage {
  return {
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
  };
}
