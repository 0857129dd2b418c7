import { CertificateRevokedV1, type Envelope, type RevokeCertificateV1 } from '@thk/contracts';
import { AppError, type Logger } from '@thk/core';
import { createEnvelope } from '@thk/messaging';
import { UnitOfWork } from '@thk/persistence';
import { normalizeSerialHex } from '@thk/pki';
import type { CertificateRegistry } from '../registry/certificate-registry.js';
import { caMetrics } from '../metrics.js';
import type { CrlService } from './crl.service.js';

export const CA_COMMANDS_DURABLE = 'ca-gateway-commands';

export type RevocationOutcome = 'revoked' | 'already-revoked' | 'duplicate';

/**
 * `RevokeCertificate`: marks the certificate revoked, signs a new CRL and emits
 * `CertificateRevoked`, all in one transaction. Revoking a revoked certificate changes nothing and
 * answers the original revocation again; a redelivered command (same message id) does nothing.
 * An unknown serial number is a poison message (dead-lettered for an operator).
 */
export class RevokeCertificateService {
  constructor(
    private readonly uow: UnitOfWork,
    private readonly registry: CertificateRegistry,
    private readonly crl: CrlService,
    private readonly clock: () => Date,
    private readonly log: Logger,
  ) {}

  async handle(envelope: Envelope<RevokeCertificateV1>): Promise<RevocationOutcome> {
    const cmd = envelope.data;
    const serialNumber = normalizeSerialHex(cmd.serialNumber);
    const result = await this.uow.run(async (tx) => {
      const row = await this.registry.lockForRevocation(tx.manager, serialNumber);
      if (!row) throw new AppError('not-found', `no certificate with serial number ${serialNumber} was issued here`, { meta: { serialNumber } });
      let outcome: RevocationOutcome = 'already-revoked';
      let revokedAt = row.revokedAt;
      let reason = row.reason;
      if (!revokedAt || !reason) {
        const now = this.clock();
        revokedAt = new Date(Math.floor(now.getTime() / 1000) * 1000);
        reason = cmd.reason;
        await this.registry.markRevoked(tx.manager, serialNumber, revokedAt, reason, cmd.requestedBy, cmd.comment);
        await this.crl.regenerate(tx.manager, now);
        outcome = 'revoked';
      }
      tx.emit({
        subject: CertificateRevokedV1.subject(),
        envelope: createEnvelope(CertificateRevokedV1, { serialNumber, reason, revokedAt: revokedAt.toISOString() }, { source: 'ca-gateway', correlationId: envelope.correlationId, causationId: envelope.id }),
      });
      return outcome;
    }, { inbox: { consumer: CA_COMMANDS_DURABLE, messageId: envelope.id } });
    const outcome = result.applied ? result.value : 'duplicate';
    if (outcome === 'revoked') caMetrics.revoked.inc({ reason: cmd.reason });
    this.log.info({ serialNumber, reason: cmd.reason, requestedBy: cmd.requestedBy, outcome }, 'revocation handled');
    return outcome;
  }
}
