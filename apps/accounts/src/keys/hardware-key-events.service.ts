import type {
  CertificateRevokedV1, Envelope, HardwareKeyRequestFailedV1, HardwareKeyRequestedV1, TemporaryHardwareKeyFormedV1, TokenRef,
} from '@thk/contracts';
import { AppError, createLogger, type Logger } from '@thk/core';
import type { Transaction, UnitOfWork } from '@thk/persistence';
import { normalizeSerial } from '../certificates/certificate-info.js';
import { KeyAccountEntity } from '../persistence/index.js';
import type { Cause, KeyLifecycle } from './key-lifecycle.service.js';

export const ISSUANCE_EVENTS_DURABLE = 'accounts-issuance-events';
export const CA_EVENTS_DURABLE = 'accounts-ca-events';

const causeOf = (envelope: Envelope): Cause => ({ correlationId: envelope.correlationId, causationId: envelope.id });

/**
 * Applies the issuance saga's facts to the key list: a `pending` row when a request starts, `active`
 * with its certificate when it is formed, `failed` with the code when it fails; and the CA's
 * revocations. Each message is applied once (inbox) and each transition is guarded by the current
 * state, so a late or repeated message changes nothing twice, in any order.
 */
export class HardwareKeyEvents {
  private readonly log: Logger;

  constructor(private readonly uow: UnitOfWork, private readonly lifecycle: KeyLifecycle, private readonly clock: () => Date, logger?: Logger) {
    this.log = logger ?? createLogger('accounts:hardware-keys');
  }

  async requested(envelope: Envelope<HardwareKeyRequestedV1>): Promise<boolean> {
    const d = envelope.data;
    const result = await this.uow.run(async (tx) => {
      const existing = await this.lockKey(tx, d.keyAccountId, d.userId);
      if (existing) {
        // Formed or failed arrived first: fill in what only this event carries.
        if (existing.tokenSerial === null || existing.requestId === null) {
          await tx.manager.update(KeyAccountEntity, { id: existing.id }, { ...tokenColumns(d.token), requestId: d.requestId, algorithm: d.algorithm });
        }
        return;
      }
      await this.insertTemporary(tx, d, 'pending', new Date(d.requestedAt), causeOf(envelope), { ...tokenColumns(d.token), algorithm: d.algorithm });
    }, { inbox: { consumer: ISSUANCE_EVENTS_DURABLE, messageId: envelope.id } });
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
      let key = await this.lockKey(tx, d.keyAccountId, d.userId);
      if (!key) {
        key = await this.insertTemporary(tx, d, 'active', new Date(d.formedAt), cause, columns);
      } else if (key.status === 'pending') {
        await this.lifecycle.changeStatus(tx, key, 'active', null, cause, columns);
      } else {
        if (key.status === 'failed') this.log.warn({ keyId: key.id, requestId: d.requestId }, 'a key reported formed after it failed; left failed');
        return;
      }
      // A base key blocked, revoked or expired meanwhile: the new key follows it at once.
      const base = await tx.manager.findOneBy(KeyAccountEntity, { id: d.baseKeyId });
      if (base) await this.lifecycle.follow(tx, key, base, cause);
    }, { inbox: { consumer: ISSUANCE_EVENTS_DURABLE, messageId: envelope.id } });
    return result.applied;
  }

  async failed(envelope: Envelope<HardwareKeyRequestFailedV1>): Promise<boolean> {
    const d = envelope.data;
    const cause = causeOf(envelope);
    const result = await this.uow.run(async (tx) => {
      const key = await this.lockKey(tx, d.keyAccountId, d.userId);
      if (!key) {
        await this.insertTemporary(tx, { ...d, requestId: d.requestId }, 'failed', new Date(d.failedAt), cause, { failureCode: d.code, statusReason: d.code });
        return;
      }
      if (key.status === 'pending') await this.lifecycle.changeStatus(tx, key, 'failed', d.code, cause, { failureCode: d.code });
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
   * Serialises the events of one key account (they may be handled in parallel, and the row may not
   * exist yet, so a row lock is not enough), then loads it.
   */
  private async lockKey(tx: Transaction, keyId: string, userId: string): Promise<KeyAccountEntity | null> {
    await tx.manager.query(`SELECT pg_advisory_xact_lock(hashtextextended('key_account:' || $1, 0))`, [keyId]);
    const key = await tx.manager.findOne(KeyAccountEntity, { where: { id: keyId }, lock: { mode: 'pessimistic_write' } });
    if (key && key.userId !== userId) {
      throw new AppError('accounts.key-owner-mismatch', `key account ${keyId} belongs to another user`, { meta: { keyId } });
    }
    return key;
  }

  /** A temporary hardware key row, its owner copied from the base key. */
  private async insertTemporary(
    tx: Transaction,
    d: { keyAccountId: string; userId: string; baseKeyId: string; requestId: string },
    status: 'pending' | 'active' | 'failed',
    createdAt: Date,
    cause: Cause,
    columns: Partial<KeyAccountEntity>,
  ): Promise<KeyAccountEntity> {
    const base = await tx.manager.findOneBy(KeyAccountEntity, { id: d.baseKeyId });
    if (!base || base.userId !== d.userId) {
      // Issuance checked the base key before it started: this is a bug or a forged message, not a delay.
      throw new AppError('accounts.base-key-unknown', `base key ${d.baseKeyId} is not a key of user ${d.userId}`, { meta: { baseKeyId: d.baseKeyId } });
    }
    const key = tx.manager.create(KeyAccountEntity, {
      id: d.keyAccountId,
      userId: d.userId,
      kind: 'hardware',
      temporary: true,
      baseKeyId: base.id,
      ownerOrganization: base.ownerOrganization,
      ownerEdrpou: base.ownerEdrpou,
      ownerFullName: base.ownerFullName,
      ownerRnokpp: base.ownerRnokpp,
      ownerPosition: base.ownerPosition,
      status,
      statusReason: null,
      statusChangedAt: this.clock(),
      createdAt,
      certSerial: null, certSubject: null, certIssuer: null, certNotBefore: null, certNotAfter: null, certDer: null,
      certRevokedAt: null, certRevocationReason: null,
      tokenAgentId: null, tokenId: null, tokenSerial: null, tokenModel: null, tokenLabel: null, tokenKeyId: null,
      algorithm: null,
      requestId: d.requestId,
      failureCode: null,
      version: 1,
      ...columns,
    });
    await tx.manager.insert(KeyAccountEntity, key);
    this.lifecycle.announceCreated(tx, key, cause);
    return key;
  }
}

function tokenColumns(token: TokenRef): Partial<KeyAccountEntity> {
  return { tokenAgentId: token.agentId, tokenId: token.tokenId, tokenSerial: token.serial, tokenModel: token.model, tokenLabel: token.label };
}
