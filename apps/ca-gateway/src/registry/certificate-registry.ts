import type { CertificateRejectionCode, CertificateSummary, RevocationReason } from '@thk/contracts';
import type { DataSource, EntityManager } from 'typeorm';
import type { CertificateProfileName } from './issued-certificate.entity.js';

export interface RegistryCertificate {
  serialNumber: string;
  profile: CertificateProfileName;
  requestId: string | null;
  keyId: string | null;
  subject: string;
  issuer: string;
  notBefore: Date;
  notAfter: Date;
  der: Buffer;
  revokedAt: Date | null;
  revocationReason: RevocationReason | null;
}

export interface IssueDecisionRow {
  requestId: string;
  fingerprint: string;
  outcome: 'issued' | 'rejected';
  rejectionCode: CertificateRejectionCode | null;
  rejectionMessage: string | null;
  serialNumber: string | null;
}

export interface NewCertificate {
  serialNumber: string;
  profile: CertificateProfileName;
  requestId: string | null;
  keyId: string | null;
  userId: string | null;
  baseSerialNumber: string | null;
  tokenSerial: string | null;
  subject: string;
  issuer: string;
  notBefore: Date;
  notAfter: Date;
  spkiSha256: string;
  qcSscd: boolean;
  der: Uint8Array;
  issuedAt: Date;
}

const CERT_COLUMNS = `serial_number AS "serialNumber", profile, request_id AS "requestId", key_id AS "keyId", subject, issuer,
  not_before AS "notBefore", not_after AS "notAfter", der, revoked_at AS "revokedAt", revocation_reason AS "revocationReason"`;

/**
 * The certificate registry's queries. Plain SQL on the hot path (one round trip each); every
 * write takes the caller's transaction manager.
 */
export class CertificateRegistry {
  constructor(private readonly dataSource: DataSource) {}

  async findDecision(requestId: string): Promise<IssueDecisionRow | null> {
    const rows: IssueDecisionRow[] = await this.dataSource.query(
      `SELECT request_id AS "requestId", fingerprint, outcome, rejection_code AS "rejectionCode", rejection_message AS "rejectionMessage", serial_number AS "serialNumber"
         FROM issue_requests WHERE request_id = $1`, [requestId]);
    return rows[0] ?? null;
  }

  async findCertificate(serialNumber: string, manager: EntityManager | DataSource = this.dataSource): Promise<RegistryCertificate | null> {
    const rows: RegistryCertificate[] = await manager.query(`SELECT ${CERT_COLUMNS} FROM issued_certificates WHERE serial_number = $1`, [serialNumber]);
    return rows[0] ?? null;
  }

  async findByPublicKey(spkiSha256: string): Promise<RegistryCertificate | null> {
    const rows: RegistryCertificate[] = await this.dataSource.query(`SELECT ${CERT_COLUMNS} FROM issued_certificates WHERE spki_sha256 = $1`, [spkiSha256]);
    return rows[0] ?? null;
  }

  /** In one round trip: is the base certificate revoked, and does this public key have a certificate already? */
  async issueChecks(baseSerialNumber: string, spkiSha256: string): Promise<{ baseRevoked: boolean; keyCertified: boolean }> {
    const rows: Array<{ baseRevoked: boolean; keyCertified: boolean }> = await this.dataSource.query(
      `SELECT EXISTS (SELECT 1 FROM issued_certificates WHERE serial_number = $1 AND revoked_at IS NOT NULL) AS "baseRevoked",
              EXISTS (SELECT 1 FROM issued_certificates WHERE spki_sha256 = $2) AS "keyCertified"`, [baseSerialNumber, spkiSha256]);
    return rows[0]!;
  }

  /** Records a certificate and, when it answers an IssueCertificate request, the decision (one statement). */
  async insertIssued(manager: EntityManager, c: NewCertificate, fingerprint: string | null): Promise<void> {
    const params = [c.serialNumber, c.profile, c.requestId, c.keyId, c.userId, c.baseSerialNumber, c.tokenSerial, c.subject, c.issuer,
      c.notBefore, c.notAfter, c.spkiSha256, c.qcSscd, Buffer.from(c.der), c.issuedAt];
    const insertCert = `INSERT INTO issued_certificates (serial_number, profile, request_id, key_id, user_id, base_serial_number, token_serial, subject, issuer,
        not_before, not_after, spki_sha256, qc_sscd, der, issued_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)`;
    if (fingerprint === null) {
      await manager.query(insertCert, params);
      return;
    }
    await manager.query(
      `WITH cert AS (${insertCert} RETURNING serial_number)
       INSERT INTO issue_requests (request_id, fingerprint, outcome, serial_number, decided_at) SELECT $3, $16, 'issued', serial_number, $15 FROM cert`,
      [...params, fingerprint]);
  }

  async insertRejection(manager: EntityManager, requestId: string, fingerprint: string, code: CertificateRejectionCode, message: string, at: Date): Promise<void> {
    await manager.query(
      `INSERT INTO issue_requests (request_id, fingerprint, outcome, rejection_code, rejection_message, decided_at) VALUES ($1, $2, 'rejected', $3, $4, $5)`,
      [requestId, fingerprint, code, message, at]);
  }

  /** Locks the certificate's row for a revocation; null when unknown. */
  async lockForRevocation(manager: EntityManager, serialNumber: string): Promise<{ revokedAt: Date | null; reason: RevocationReason | null } | null> {
    const rows: Array<{ revokedAt: Date | null; reason: RevocationReason | null }> = await manager.query(
      `SELECT revoked_at AS "revokedAt", revocation_reason AS reason FROM issued_certificates WHERE serial_number = $1 FOR UPDATE`, [serialNumber]);
    return rows[0] ?? null;
  }

  async markRevoked(manager: EntityManager, serialNumber: string, at: Date, reason: RevocationReason, by: string, comment: string | null): Promise<void> {
    await manager.query(
      `UPDATE issued_certificates SET revoked_at = $2, revocation_reason = $3, revoked_by = $4, revocation_comment = $5 WHERE serial_number = $1`,
      [serialNumber, at, reason, by, comment]);
  }

  /** Revoked certificates still within their validity (expired ones may leave the CRL, RFC 5280 §3.3). */
  async revokedEntries(manager: EntityManager, at: Date): Promise<Array<{ serialNumber: string; revokedAt: Date; reason: RevocationReason }>> {
    return manager.query(
      `SELECT serial_number AS "serialNumber", revoked_at AS "revokedAt", revocation_reason AS reason
         FROM issued_certificates WHERE revoked_at IS NOT NULL AND not_after > $1 ORDER BY revoked_at, serial_number`, [at]);
  }
}

export function summaryOf(c: RegistryCertificate): CertificateSummary & { der: string } {
  return {
    serialNumber: c.serialNumber,
    subject: c.subject,
    issuer: c.issuer,
    notBefore: c.notBefore.toISOString(),
    notAfter: c.notAfter.toISOString(),
    der: c.der.toString('base64'),
  };
}
