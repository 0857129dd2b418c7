import { setImmediate as nextTurn } from 'node:timers/promises';
import { AppError, createLogger, type Logger } from '@thk/core';
import { queryPrepared } from '@thk/persistence';
import type { DataSource, EntityManager } from 'typeorm';
import type { KdfSettings } from '../config/accounts.config.js';
import { CloudKeySecretEntity, type StoredKdf } from '../persistence/index.js';
import type { KdfPool } from './kdf-pool.js';
import {
  WrongPasswordError, deriveKey, newKdf, openWithDerivedKey, passwordBytes, sealWithDerivedKey, unwrapKek, type Kek, type SealedKey,
} from './key-sealing.js';

export interface DepositoryOptions {
  kdf: KdfSettings;
  /** The KEK new records are sealed with. */
  kek: Kek;
  /** Older KEKs still able to open records sealed before a rotation. */
  previousKeks?: Kek[];
  maxAttempts: number;
  /**
   * How long a counted attempt may wait for its verdict (pool queue plus KDFs) before it is taken
   * for one whose process died; default one minute, far beyond any real check.
   */
  staleReservationMs?: number;
}

export const DEFAULT_STALE_RESERVATION_MS = 60_000;

/**
 * The cloud key depository: seals private keys under the owner's password and the server KEK, and
 * opens them for a signature when the password is right. Wrong passwords are counted per key; the
 * `maxAttempts`-th in a row blocks the key's access until an operator lifts it. A guess is counted
 * before its KDF runs (and given back when it proves right or the check could not run), so parallel
 * guesses cannot exceed the limit.
 *
 * The password lives only in this call's memory: it is never logged, stored, put in an error or
 * in a message, and the buffers derived from it are wiped after use.
 */
export class Depository {
  private readonly keks: Map<string, Buffer>;
  private readonly log: Logger;

  constructor(private readonly ds: DataSource, private readonly pool: KdfPool, private readonly options: DepositoryOptions, private readonly clock: () => Date, logger?: Logger) {
    this.keks = new Map([...(options.previousKeks ?? []), options.kek].map((k) => [k.id, k.key]));
    this.log = logger ?? createLogger('accounts:depository');
  }

  get maxAttempts(): number { return this.options.maxAttempts; }

  /** Seals a new private key (PKCS#8 DER) under `password`; the caller stores the result with its key account. */
  async seal(keyId: string, privateKeyDer: Buffer, password: string): Promise<SealedKey> {
    const kdf = newKdf(this.options.kdf);
    const pw = passwordBytes(password);
    try {
      const derived = await this.pool.run(() => deriveKey(pw, kdf));
      try {
        return sealWithDerivedKey(keyId, privateKeyDer, derived, kdf, this.options.kek);
      } finally {
        derived.fill(0);
      }
    } finally {
      pw.fill(0);
    }
  }

  async insert(manager: EntityManager, keyId: string, sealed: SealedKey): Promise<void> {
    await manager.insert(CloudKeySecretEntity, {
      keyId, kdf: sealed.kdf, kekId: sealed.kekId, sealed: sealed.sealed, failedAttempts: 0, accessBlockedAt: null, accessUnblockedBy: null, updatedAt: this.clock(),
    });
  }

  async isAccessBlocked(keyId: string): Promise<boolean | null> {
    const rows: Array<{ blocked: boolean }> = await this.ds.query('SELECT access_blocked_at IS NOT NULL AS blocked FROM cloud_key_secrets WHERE key_id = $1', [keyId]);
    return rows[0]?.blocked ?? null;
  }

  /**
   * Opens the private key with `password`. Throws `key-access-blocked`, `wrong-password` (with
   * `meta.remainingAttempts`), `busy` (retryable), or `depository.integrity` for a damaged record.
   * After a right password, a record sealed with weaker KDF parameters than configured is sealed
   * again at today's strength (in the transaction that resets the counter).
   *
   * The opened key (PKCS#8) goes to `use` while the success is recorded (the counter reset, the record
   * raised to today's KDF where due) instead of after it: the two overlap, and `use`'s result comes
   * back only once the success is durable (a failure to record it is the answer, and `use`'s result is
   * dropped). `use` must neither keep nor change the buffer: the recording may still read it (to seal
   * it again), and it is wiped here once both are done.
   *
   * `reservedByCaller`: the record as a statement of the caller returned it after counting this
   * attempt itself, by the same rule (`failed_attempts + 1` where {@link RESERVABLE} held, `updated_at`
   * = now), so that the count costs no round trip of its own. Every outcome then treats the attempt
   * exactly as one counted here.
   */
  async open<T>(keyId: string, password: string, reservedByCaller: SealedKey | undefined, use: (pkcs8: Buffer) => Promise<T>): Promise<T> {
    let sealed = reservedByCaller;
    if (!sealed) {
      const reserved: Array<{ kdf: SealedKey['kdf']; kek_id: string; sealed: Buffer }> = await this.ds.query(
        `WITH u AS (UPDATE cloud_key_secrets SET failed_attempts = failed_attempts + 1, updated_at = $3
          WHERE key_id = $1 AND ${RESERVABLE} RETURNING kdf, kek_id, sealed) SELECT * FROM u`,
        [keyId, this.options.maxAttempts, this.clock()],
      );
      const record = reserved[0];
      if (!record) throw await this.noAttemptLeft(keyId);
      sealed = { kdf: record.kdf, kekId: record.kek_id, sealed: record.sealed };
    }
    const pw = passwordBytes(password);
    try {
      let inner: Buffer;
      let derived: Buffer;
      try {
        inner = unwrapKek(keyId, sealed, this.keks);
        derived = await this.pool.run(() => deriveKey(pw, sealed.kdf));
      } catch (error) {
        await this.giveBack(keyId);
        if (AppError.is(error) && error.code === 'depository.integrity') this.log.error({ keyId }, 'sealed key failed its integrity check');
        throw error;
      }
      let plain: Buffer;
      try {
        plain = openWithDerivedKey(keyId, inner, derived, sealed.kdf);
      } catch (error) {
        if (!(error instanceof WrongPasswordError)) { await this.giveBack(keyId); throw error; }
        throw await this.wrongPassword(keyId);
      } finally {
        derived.fill(0);
        inner.fill(0);
      }
      try {
        const recording = this.succeeded(keyId, sealed, plain, pw);
        // One turn of the event loop: the reset's statement is on the wire before `use` takes the CPU.
        await nextTurn();
        const [recorded, used] = await Promise.allSettled([recording, use(plain)]);
        if (recorded.status === 'rejected') throw recorded.reason;
        if (used.status === 'rejected') throw used.reason;
        return used.value;
      } finally {
        plain.fill(0);
      }
    } finally {
      pw.fill(0);
    }
  }

  /**
   * No attempt could be reserved: access is blocked, every remaining attempt is being checked by a
   * parallel request (`busy`), or the attempts were all counted but the verdict of the last one
   * never came (the process died between counting and deciding). The last case is told from the
   * second by age: no check runs longer than `staleReservationMs`, so a row at the limit whose last
   * reservation is older than that has no check in flight, and its lockout is completed here.
   * Without this it would answer `busy` forever.
   */
  private async noAttemptLeft(keyId: string): Promise<AppError> {
    const now = this.clock();
    const staleBefore = new Date(now.getTime() - (this.options.staleReservationMs ?? DEFAULT_STALE_RESERVATION_MS));
    const locked: Array<{ failed_attempts: number }> = await this.ds.query(
      `WITH u AS (UPDATE cloud_key_secrets SET access_blocked_at = $3, updated_at = $3
        WHERE key_id = $1 AND access_blocked_at IS NULL AND failed_attempts >= $2 AND updated_at <= $4
        RETURNING failed_attempts) SELECT * FROM u`,
      [keyId, this.options.maxAttempts, now, staleBefore],
    );
    if (locked[0]) {
      this.log.warn({ keyId, attempts: locked[0].failed_attempts }, 'key access blocked: every attempt was used and no check is still running');
      return accessBlocked(keyId);
    }
    const blocked = await this.isAccessBlocked(keyId);
    if (blocked === null) return new AppError('not-found', 'no such key in the depository', { meta: { keyId } });
    if (blocked) return accessBlocked(keyId);
    // Every remaining attempt is already being checked by a parallel request.
    return new AppError('busy', 'another password check of this key is running; retry in a moment', { retryable: true, meta: { retryAfterMs: 1_000 } });
  }

  private async wrongPassword(keyId: string): Promise<AppError> {
    const [after] = (await this.ds.query(
      `WITH u AS (UPDATE cloud_key_secrets
          SET access_blocked_at = CASE WHEN failed_attempts >= $2 THEN COALESCE(access_blocked_at, $3) ELSE access_blocked_at END,
              updated_at = $3
        WHERE key_id = $1 RETURNING failed_attempts, access_blocked_at IS NOT NULL AS blocked) SELECT * FROM u`,
      [keyId, this.options.maxAttempts, this.clock()],
    )) as Array<{ failed_attempts: number; blocked: boolean }>;
    const remaining = Math.max(0, this.options.maxAttempts - (after?.failed_attempts ?? this.options.maxAttempts));
    if (after?.blocked) this.log.warn({ keyId, attempts: after.failed_attempts }, 'key access blocked after too many wrong passwords');
    return new AppError('wrong-password', 'the password of the key is wrong', {
      meta: { remainingAttempts: remaining, ...(after?.blocked ? { accessBlocked: true } : {}) },
    });
  }

  /**
   * The password was right: resets the counter and, when the record's KDF is weaker than the
   * configured one, stores it sealed again at the configured strength (new salt, current KEK), in one
   * transaction. The password is used only here in memory to derive the new key; the new record is
   * written only if nobody replaced the old one meanwhile. When the pool is too busy for the extra KDF
   * the upgrade simply waits for the next right password.
   */
  private async succeeded(keyId: string, sealed: SealedKey, plain: Buffer, pw: Buffer): Promise<void> {
    const target = strongerKdf(sealed.kdf, this.options.kdf);
    const upgraded = target ? await this.resealed(keyId, plain, pw, target) : null;
    if (!upgraded) {
      // One statement, prepared: no transaction around it (two round trips fewer on every right password).
      await queryPrepared(this.ds, RESET_ATTEMPTS, [keyId, this.clock()]);
      return;
    }
    await this.ds.transaction(async (manager) => {
      await manager.query(RESET_ATTEMPTS, [keyId, this.clock()]);
      const rows: unknown[] = await manager.query(
        `WITH u AS (UPDATE cloud_key_secrets SET kdf = $2, kek_id = $3, sealed = $4 WHERE key_id = $1 AND sealed = $5 RETURNING key_id) SELECT * FROM u`,
        [keyId, JSON.stringify(upgraded.kdf), upgraded.kekId, upgraded.sealed, sealed.sealed],
      );
      if (rows.length) {
        this.log.info({ keyId, from: kdfSummary(sealed.kdf), to: kdfSummary(upgraded.kdf) }, 'sealed key raised to the configured KDF parameters');
      }
    });
  }

  /** The key sealed again at `target` (new salt, current KEK), or null when the pool is too busy for the extra KDF. */
  private async resealed(keyId: string, plain: Buffer, pw: Buffer, target: KdfSettings): Promise<SealedKey | null> {
    try {
      const kdf = newKdf(target);
      const derived = await this.pool.run(() => deriveKey(pw, kdf));
      try {
        return sealWithDerivedKey(keyId, plain, derived, kdf, this.options.kek);
      } finally {
        derived.fill(0);
      }
    } catch (error) {
      this.log.warn({ keyId, code: AppError.is(error) ? error.code : 'kdf-failed' }, 'raising the KDF parameters of a sealed key was postponed');
      return null;
    }
  }

  /** Operator command: lifts the lockout and resets the counter. */
  async unblock(keyId: string, operator: string): Promise<{ unblocked: boolean }> {
    const rows: Array<{ was_blocked: boolean }> = await this.ds.query(
      `WITH old AS (SELECT key_id, access_blocked_at IS NOT NULL AS was_blocked FROM cloud_key_secrets WHERE key_id = $1 FOR UPDATE),
            u AS (UPDATE cloud_key_secrets s SET access_blocked_at = NULL, failed_attempts = 0, access_unblocked_by = $2, updated_at = $3
                    FROM old WHERE s.key_id = old.key_id RETURNING old.was_blocked)
       SELECT was_blocked FROM u`,
      [keyId, operator, this.clock()],
    );
    if (!rows[0]) throw new AppError('not-found', 'no such cloud key', { meta: { keyId } });
    if (rows[0].was_blocked) this.log.info({ keyId, operator }, 'key access unblocked');
    return { unblocked: rows[0].was_blocked };
  }

  /** Takes back one counted attempt (the check could not run, or proved nothing about the password). */
  async giveBack(keyId: string): Promise<void> {
    await this.ds.query('UPDATE cloud_key_secrets SET failed_attempts = GREATEST(failed_attempts - 1, 0) WHERE key_id = $1', [keyId]);
  }
}

const RESET_ATTEMPTS = 'UPDATE cloud_key_secrets SET failed_attempts = 0, updated_at = $2 WHERE key_id = $1';

/**
 * When a `cloud_key_secrets` row may count one more attempt: not blocked, and fewer than the maximum
 * (`$2`) counted. Statements that count an attempt use it verbatim, with the maximum as `$2`.
 */
export const RESERVABLE = 'access_blocked_at IS NULL AND failed_attempts < $2';

export function accessBlocked(keyId: string): AppError {
  return new AppError('key-access-blocked', 'access to this key is blocked after too many wrong passwords; an operator must unblock it', { meta: { keyId } });
}

/**
 * The parameters to re-seal a record with, when any of its stored ones is below the configured
 * strength: each the larger of the two, so that an upgrade never lowers a parameter. Null when the
 * record is already at least as strong in every parameter.
 */
export function strongerKdf(stored: Pick<StoredKdf, 'log2N' | 'r' | 'p'>, configured: KdfSettings): KdfSettings | null {
  if (stored.log2N >= configured.log2N && stored.r >= configured.r && stored.p >= configured.p) return null;
  return { log2N: Math.max(stored.log2N, configured.log2N), r: Math.max(stored.r, configured.r), p: Math.max(stored.p, configured.p) };
}

function kdfSummary(kdf: StoredKdf): string {
  return `${kdf.alg} N=2^${kdf.log2N} r=${kdf.r} p=${kdf.p}`;
}
