import { randomUUID } from 'node:crypto';
import 'reflect-metadata';
import { X509Certificate } from '@peculiar/x509';
import { CertifyCloudKeyV1, type CreateDevUserV1, type RpcRequest } from '@thk/contracts';
import { AppError, createLogger, type Logger } from '@thk/core';
import type { RpcClient } from '@thk/messaging';
import type { UnitOfWork } from '@thk/persistence';
import type { DataSource } from 'typeorm';
import { parseCertificate, personSubjectOf } from '../certificates/certificate-info.js';
import type { Depository } from '../depository/depository.service.js';
import type { KeyLifecycle } from '../keys/key-lifecycle.service.js';
import { KeyAccountEntity, UserEntity } from '../persistence/index.js';
import { buildCloudKeyCsr, generateCloudKeyPair } from './cloud-key-csr.js';

const DAY_MS = 24 * 3_600_000;

export interface DevUsersOptions { enabled: boolean; caTimeoutMs: number }

/**
 * Development users (api.md `/v1/dev/users`): a user with an active cloud key whose certificate the
 * CA gateway issues for the window asked (past windows too, so that expiry can be tried).
 * Refused with `not-available` unless the service runs in development mode.
 */
export class DevUsers {
  private readonly log: Logger;

  constructor(
    private readonly ds: DataSource,
    private readonly uow: UnitOfWork,
    private readonly depository: Depository,
    private readonly lifecycle: KeyLifecycle,
    private readonly rpc: RpcClient,
    private readonly clock: () => Date,
    private readonly options: DevUsersOptions,
    logger?: Logger,
  ) {
    this.log = logger ?? createLogger('accounts:dev-users');
  }

  async create(request: RpcRequest<typeof CreateDevUserV1>): Promise<{ userId: string; keyId: string }> {
    this.ensureEnabled();
    const now = this.clock();
    const notBefore = request.certificate ? new Date(request.certificate.notBefore) : new Date(now.getTime() - DAY_MS);
    const notAfter = request.certificate ? new Date(request.certificate.notAfter) : new Date(notBefore.getTime() + 365 * DAY_MS);
    if (notAfter.getTime() <= notBefore.getTime()) {
      throw new AppError('validation-failed', 'certificate.notAfter must follow certificate.notBefore', { meta: { field: 'certificate' } });
    }
    if ((request.organization === null) !== (request.edrpou === null)) {
      throw new AppError('validation-failed', 'organization and edrpou come together', { meta: { field: 'edrpou' } });
    }
    if (await this.ds.manager.existsBy(UserEntity, { rnokpp: request.rnokpp })) throw conflict();

    const userId = randomUUID();
    const keyId = randomUUID();
    const keys = await generateCloudKeyPair();
    try {
      const sealed = await this.depository.seal(keyId, keys.privateKeyDer, request.cloudKeyPassword);
      const subject = personSubjectOf(request);
      const csr = await buildCloudKeyCsr(keys, subject);
      const { certificate } = await this.rpc.call(CertifyCloudKeyV1, {
        userId, keyId, csr: csr.toString('base64'), subject, notBefore: notBefore.toISOString(), notAfter: notAfter.toISOString(),
      }, { timeoutMs: this.options.caTimeoutMs });
      const der = Buffer.from(certificate.der, 'base64');
      const parsed = parseCertificate(der);
      const certifiedKey = Buffer.from(new X509Certificate(der).publicKey.rawData);
      if (!certifiedKey.equals(keys.publicKeySpki)) {
        throw new AppError('accounts.certificate-mismatch', 'the CA certified another public key than the cloud key', { meta: { keyId } });
      }
      const at = this.clock();
      const key = this.ds.manager.create(KeyAccountEntity, {
        id: keyId, userId, kind: 'cloud', temporary: false, baseKeyId: null,
        ownerOrganization: request.organization, ownerEdrpou: request.edrpou, ownerFullName: request.fullName,
        ownerRnokpp: request.rnokpp, ownerPosition: request.position,
        status: 'active', statusReason: null, statusChangedAt: at, createdAt: at,
        certSerial: parsed.summary.serialNumber, certSubject: parsed.summary.subject, certIssuer: parsed.summary.issuer,
        certNotBefore: new Date(parsed.summary.notBefore), certNotAfter: new Date(parsed.summary.notAfter), certDer: der,
        certRevokedAt: null, certRevocationReason: null,
        tokenAgentId: null, tokenId: null, tokenSerial: null, tokenModel: null, tokenLabel: null, tokenKeyId: null,
        algorithm: 'EC-P256', requestId: null, failureCode: null, version: 1,
      });
      try {
        await this.uow.run(async (tx) => {
          await tx.manager.insert(UserEntity, {
            id: userId, fullName: request.fullName, rnokpp: request.rnokpp, organization: request.organization,
            edrpou: request.edrpou, position: request.position, createdAt: at,
          });
          await tx.manager.insert(KeyAccountEntity, key);
          await this.depository.insert(tx.manager, keyId, sealed);
          this.lifecycle.announceCreated(tx, key, { correlationId: keyId, causationId: null });
        });
      } catch (error) {
        if ((error as { code?: string }).code === '23505') throw conflict();
        throw error;
      }
      this.log.info({ userId, keyId, notBefore: parsed.summary.notBefore, notAfter: parsed.summary.notAfter }, 'development user created');
      return { userId, keyId };
    } finally {
      keys.privateKeyDer.fill(0);
    }
  }

  async find(rnokpp: string): Promise<{ userId: string }> {
    this.ensureEnabled();
    const user = await this.ds.manager.findOneBy(UserEntity, { rnokpp });
    if (!user) throw new AppError('not-found', 'no user with this РНОКПП');
    return { userId: user.id };
  }

  private ensureEnabled(): void {
    if (!this.options.enabled) throw new AppError('not-available', 'development users exist only in development mode');
  }
}

function conflict(): AppError {
  return new AppError('conflict', 'a user with this РНОКПП already exists');
}
