import { HardwareKeyRequestFailedV1, HardwareKeyRequestedV1, TemporaryHardwareKeyFormedV1 } from '@thk/contracts';
import type { CertificateRevokedV1, Envelope, TokenRef } from '@thk/contracts';
import { AppError, createLogger, type Logger } from '@thk/core';
import type { GateStatement, Transaction, UnitOfWork } from '@thk/persistence';
import { normalizeSerial } from '../certificates/certificate-info.js';
import { KeyAccountEntity, keyAccountAssignments, keyAccountOfRow, keyAccountValues, type KeyAccountRow } from '../persistence/index.js';
import { statusChanged, type Cause, type KeyLifecycle } from './key-lifecycle.service.js';

/**
 * The inbox's name for the issuance events (one message is applied once, whichever durable brought it):
 * the name of the one durable that took them all before `ISSUANCE_EVENT_DURABLES`.
 */
export const ISSUANCE_EVENTS_DURABLE = 'accounts-issuance-events';
/**
 * One durable per issuance event that accounts takes (nats-server 2.9 gives a consumer one filter): the
 * saga's seven progress events of every formation are then never delivered here, where they were
 * acked unread while the saga's next steps ran on the same cores. The handlers take the events in any
 * order, so separate consumers change nothing of what is applied.
 */
export const ISSUANCE_EVENT_DURABLES = [
  { durable: 'accounts-hardware-key-requested', filterSubject: HardwareKeyRequestedV1.subjectPattern },
  { durable: 'accounts-temporary-hardware-key-formed', filterSubject: TemporaryHardwareKeyFormedV1.subjectPattern },
  { durable: 'accounts-hardware-key-request-failed', filterSubject: HardwareKeyRequestFailedV1.subjectPattern },
] as const;
export const CA_EVENTS_DURABLE = 'accounts-ca-events';

const causeOf = (envelope: Envelope): Cause => ({ correlationId: envelope.correlationId, causationId: envelope.id });

/**
 * Applies the issuance saga's facts to the key list: a `pending` row when a request starts, `active`
 * with its certificate when it is formed, `failed` with the code when it fails; and the CA's
 * revocations. Each message is applied once (inbox) and each transition is guarded by the current
 * state, so a late or repeated message changes nothing twice, in any order.
 *
 * The events of one key may be handled at once (the consumer runs several messages at a time, replicas
 * share it) and their key may not exist yet. The key's row serialises them, no advisory lock needed: an
 * event that finds the key takes its row lock (the guarded update, or `lockExisting`) before it decides,
 * and of events that create it, `INSERT … ON CONFLICT DO NOTHING` lets one insert while the others wait
 * for its commit and then find the key. The issuance events are plain SQL: they run while the token agent
 * generates the key on the same machine, and TypeORM's entity manager and query builder cost about 1 ms of
 * CPU an event.
 */
export class HardwareKeyEvents {
  private readonly log: Logger;

  constructor(private readonly uow: UnitOfWork, private readonly lifecycle: KeyLifecycle, private readonly clock: () => Date, logger?: Logger) {
    this.log = logger ?? createLogger('accounts:hardware-keys');
  }

  async requested(envelope: Envelope<HardwareKeyRequestedV1>): Promise<boolean> {
    const d = envelope.data;
    const token = { ...tokenColumns(d.token), algorithm: d.algorithm };
    const inbox = { consumer: ISSUANCE_EVENTS_DURABLE, messageId: envelope.id };
    // The usual order, this event first: the row, the inbox mark and the row's announcement in one
    // statement (one round trip instead of a transaction's five, while the token agent generates the key
    // on the same cores). The announcement is known beforehand: the insert copies the base key only when
    // it is this user's, so the new key's owner is the event's user.
    const statusChangedAt = this.clock();
    const created = await this.uow.runStatement(
      this.temporaryInsert(d, 'pending', null, statusChangedAt, new Date(d.requestedAt), token, 'id'),
      { inbox, emit: [statusChanged({ id: d.keyAccountId, userId: d.userId, baseKeyId: d.baseKeyId, statusChangedAt }, null, 'pending', null, causeOf(envelope))] },
    );
    if (created !== 'unmatched') return created === 'written';
    // Nothing inserted: the key exists (Formed or Failed came first), or the base key is not the user's.
    const result = await this.uow.run(async (tx) => {
      if (await this.insertTemporary(tx, d, 'pending', null, new Date(d.requestedAt), causeOf(envelope), token)) return;
      // Formed or failed arrived first: fill in what only this event carries.
      const existing = await this.lockExisting(tx, d);
      if (existing.tokenSerial === null || existing.requestId === null) {
        const set = keyAccountAssignments({ ...token, requestId: d.requestId }, 2);
        await tx.manager.query(`UPDATE key_accounts SET ${set.sql} WHERE id = $1`, [existing.id, ...set.params]);
      }
    }, { inbox });
    return result.applied;
  }

  async formed(envelope: Envelope<TemporaryHardwareKeyFormedV1>): Promise<boolean> {
    const d = envelope.data;
    const cause = causeOf(envelope);
    const columns: Partial<KeyAccountEntity> = {
      ...tokenColumns(d.token),
      tokenKeyId: d.tokenKeyId,
      algorithm: d.algorithm,
      certSerial: normalizeSerial(d.certificate.serialNumber),
      certSubject: d.certificate.subject,
      certIssuer: d.certificate.issuer,
      certNotBefore: new Date(d.certificate.notBefore),
      certNotAfter: new Date(d.certificate.notAfter),
      certDer: Buffer.from(d.certificate.der, 'base64'),
      failureCode: null,
    };
    const result = await this.uow.run(async (tx) => {
      // The base first, share-locked: the lock order of the cascades (base, then its temporary keys).
      // A block or revocation of the base that is under way commits first and is seen here (the new
      // key follows it below); one that comes later waits for this commit and its cascade finds the
      // key active. Read after the key instead, a cascade and this event could each miss the other.
      const [base]: KeyAccountRow[] = await tx.manager.query('SELECT * FROM key_accounts WHERE id = $1 FOR SHARE', [d.baseKeyId]);
      const { key, changed } = await this.conclude(tx, d, 'active', null, new Date(d.formedAt), cause, columns);
      if (!changed) {
        if (key.status === 'failed') this.log.warn({ keyId: key.id, requestId: d.requestId }, 'a key reported formed after it failed; left failed');
        return;
      }
      // A base key blocked, revoked or expired meanwhile: the new key follows it at once.
      if (base) await this.lifecycle.follow(tx, key, keyAccountOfRow(base), cause);
    }, { inbox: { consumer: ISSUANCE_EVENTS_DURABLE, messageId: envelope.id } });
    return result.applied;
  }

  async failed(envelope: Envelope<HardwareKeyRequestFailedV1>): Promise<boolean> {
    const d = envelope.data;
    const result = await this.uow.run(async (tx) => {
      await this.conclude(tx, d, 'failed', d.code, new Date(d.failedAt), causeOf(envelope), { failureCode: d.code });
    }, { inbox: { consumer: ISSUANCE_EVENTS_DURABLE, messageId: envelope.id } });
    return result.applied;
  }

  /** The CA revoked a certificate: its key reads `revoked` (and, for a base key, its temporary keys follow). */
  async certificateRevoked(envelope: Envelope<CertificateRevokedV1>): Promise<boolean> {
    const d = envelope.data;
    const serial = normalizeSerial(d.serialNumber);
    const result = await this.uow.run(async (tx) => {
      const keys = await tx.manager.find(KeyAccountEntity, { where: { certSerial: serial }, lock: { mode: 'pessimistic_write' } });
      for (const key of keys) {
        const revocation = { certRevokedAt: new Date(d.revokedAt), certRevocationReason: d.reason };
        if (key.status === 'revoked' || key.status === 'failed') {
          if (!key.certRevokedAt) await tx.manager.update(KeyAccountEntity, { id: key.id }, revocation);
          continue;
        }
        await this.lifecycle.changeStatus(tx, key, 'revoked', `certificate-revoked:${d.reason}`, causeOf(envelope), revocation);
      }
      if (!keys.length) this.log.debug({ serialNumber: serial }, 'revoked certificate belongs to no key here');
    }, { inbox: { consumer: CA_EVENTS_DURABLE, messageId: envelope.id } });
    return result.applied;
  }

  /**
   * Takes the key of a Formed or Failed event to `status`, in the fewest statements for the usual order:
   * from `pending` in one guarded update when Requested came first; else created with `status` when this
   * event is the key's first; else (the key is in another status, or its creation committed after the
   * update looked) locked and moved only if it is still pending. `changed`: this event moved or created it.
   */
  private async conclude(
    tx: Transaction,
    d: TemporaryKeyRef,
    status: 'active' | 'failed',
    reason: string | null,
    createdAt: Date,
    cause: Cause,
    columns: Partial<KeyAccountEntity>,
  ): Promise<{ key: KeyAccountEntity; changed: boolean }> {
    const moved = await this.lifecycle.changeStatusOf(tx, { id: d.keyAccountId, userId: d.userId, from: 'pending' }, status, reason, cause, columns)
      ?? await this.insertTemporary(tx, d, status, reason, createdAt, cause, columns);
    if (moved) return { key: moved, changed: true };
    const key = await this.lockExisting(tx, d);
    return { key, changed: key.status === 'pending' && await this.lifecycle.changeStatus(tx, key, status, reason, cause, columns) };
  }

  /**
   * A temporary hardware key row, its owner copied from the base key in the same statement, announced.
   * Null when the key exists already or the base key is not the user's (`lockExisting` tells which).
   * A concurrent insert of the same key makes this one wait for its commit and then insert nothing.
   */
  private async insertTemporary(
    tx: Transaction,
    d: TemporaryKeyRef,
    status: 'pending' | 'active' | 'failed',
    reason: string | null,
    createdAt: Date,
    cause: Cause,
    columns: Partial<KeyAccountEntity>,
  ): Promise<KeyAccountEntity | null> {
    const insert = this.temporaryInsert(d, status, reason, this.clock(), createdAt, columns, '*');
    const rows: KeyAccountRow[] = await tx.manager.query(insert.sql, [...insert.params]);
    if (!rows[0]) return null;
    const key = keyAccountOfRow(rows[0]);
    this.lifecycle.announceCreated(tx, key, cause);
    return key;
  }

  /**
   * The insert of a temporary hardware key row with its owner copied from the base key, when the base key
   * is the user's; nothing when the key exists already.
   */
  private temporaryInsert(
    d: TemporaryKeyRef,
    status: 'pending' | 'active' | 'failed',
    reason: string | null,
    statusChangedAt: Date,
    createdAt: Date,
    columns: Partial<KeyAccountEntity>,
    returning: '*' | 'id',
  ): GateStatement {
    const values = keyAccountValues({ status, statusReason: reason, statusChangedAt, createdAt, requestId: d.requestId, ...columns }, 4);
    return {
      sql: `INSERT INTO key_accounts (id, user_id, kind, temporary, base_key_id,
         owner_organization, owner_edrpou, owner_full_name, owner_rnokpp, owner_position, ${values.columns.join(', ')})
      SELECT $1, base.user_id, 'hardware', true, base.id,
        base.owner_organization, base.owner_edrpou, base.owner_full_name, base.owner_rnokpp, base.owner_position, ${values.placeholders.join(', ')}
      FROM key_accounts base WHERE base.id = $2 AND base.user_id = $3
      ON CONFLICT (id) DO NOTHING
      RETURNING ${returning}`,
      params: [d.keyAccountId, d.baseKeyId, d.userId, ...values.params],
    };
  }

  /**
   * The key an event could not insert, locked (an event of the same key may have created it a moment
   * ago: the insert waited for its commit). Absent, the insert found no base key of the user.
   */
  private async lockExisting(tx: Transaction, d: TemporaryKeyRef): Promise<KeyAccountEntity> {
    const [row]: KeyAccountRow[] = await tx.manager.query('SELECT * FROM key_accounts WHERE id = $1 FOR UPDATE', [d.keyAccountId]);
    if (!row) {
      // Issuance checked the base key before it started: this is a bug or a forged message, not a delay.
      throw new AppError('accounts.base-key-unknown', `base key ${d.baseKeyId} is not a key of user ${d.userId}`, { meta: { baseKeyId: d.baseKeyId } });
    }
    if (row.user_id !== d.userId) {
      throw new AppError('accounts.key-owner-mismatch', `key account ${d.keyAccountId} belongs to another user`, { meta: { keyId: d.keyAccountId } });
    }
    return keyAccountOfRow(row);
  }
}

/** What every issuance event says about its key. */
interface TemporaryKeyRef { keyAccountId: string; userId: string; baseKeyId: string; requestId: string }

function tokenColumns(token: TokenRef): Partial<KeyAccountEntity> {
  return { tokenAgentId: token.agentId, tokenId: token.tokenId, tokenSerial: token.serial, tokenModel: token.model, tokenLabel: token.label };
}
