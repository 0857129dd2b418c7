import type { CertificateRejectionCode, CertificateSummary, RevocationReason } from '@thk/contracts';
import type { DataSource, EntityManager } from 'typeorm';
import { queryPrepared, type Queryable } from '@thk/persistence';
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

/** The first key of the advisory locks between issuing under a base certificate and revoking it ('thkR'). */
const REVOCATION_LOCK_CLASS = 0x74686b52;

/** What the issue lookup needs of a request; a null key is not looked up. */
export interface IssueLookupKey {
  requestId: string;
  /** The serial of the authorization's x5c certificate. */
  baseSerialNumber: string | null;
  /** The fingerprint of the CSR's public key. */
  spkiSha256: string | null;
}

/** What the registry says of one request: its earlier decision, its base certificate, whether its key has a certificate. */
export interface IssueLookup {
  decision: IssueDecisionRow | null;
  base: BaseCertificateRow | null;
  keyCertified: boolean;
}

/** What the registry says of an authorization's base certificate. */
export interface BaseCertificateRow {
  profile: CertificateProfileName;
  keyId: string | null;
  userId: string | null;
  spkiSha256: string;
  revoked: boolean;
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

  async findCertificate(serialNumber: string, manager: EntityManager | DataSource = this.dataSource): Promise<RegistryCertificate | null> {
    const rows: RegistryCertificate[] = await manager.query(`SELECT ${CERT_COLUMNS} FROM issued_certificates WHERE serial_number = $1`, [serialNumber]);
    return rows[0] ?? null;
  }

  async findByPublicKey(spkiSha256: string): Promise<RegistryCertificate | null> {
    const rows: RegistryCertificate[] = await this.dataSource.query(`SELECT ${CERT_COLUMNS} FROM issued_certificates WHERE spki_sha256 = $1`, [spkiSha256]);
    return rows[0] ?? null;
  }

  /**
   * For each request: its earlier decision, its base certificate's registry row (profile, key and
   * user it was certified for, the key's fingerprint, whether revoked; null when this serial was
   * never recorded) and whether its public key has a certificate. One round trip for a whole
   * batch; null keys are not looked up. Only a read, so the keys may come from a request not yet
   * verified (the issue looks up while the signatures are checked).
   */
  async lookupMany(keys: readonly IssueLookupKey[]): Promise<IssueLookup[]> {
    // Prepared: every issue waits for it.
    const rows: Array<IssueDecisionRow & { idx: string; found: boolean; keyCertified: boolean; baseFound: boolean } & BaseCertificateRow> = await queryPrepared(this.dataSource,
      `SELECT i.idx, d.request_id IS NOT NULL AS found, d.request_id AS "requestId", d.fingerprint, d.outcome, d.rejection_code AS "rejectionCode",
              d.rejection_message AS "rejectionMessage", d.serial_number AS "serialNumber",
              b.serial_number IS NOT NULL AS "baseFound", b.profile, b.key_id AS "keyId", b.user_id AS "userId", b.spki_sha256 AS "spkiSha256",
              b.revoked_at IS NOT NULL AS revoked,
              EXISTS (SELECT 1 FROM issued_certificates c WHERE c.spki_sha256 = i.spki) AS "keyCertified"
         FROM unnest($1::uuid[], $2::text[], $3::text[]) WITH ORDINALITY AS i(request_id, base, spki, idx)
         LEFT JOIN issue_requests d ON d.request_id = i.request_id
         LEFT JOIN issued_certificates b ON b.serial_number = i.base
        ORDER BY i.idx`,
      [keys.map((k) => k.requestId), keys.map((k) => k.baseSerialNumber), keys.map((k) => k.spkiSha256)]);
    return rows.map((r) => ({
      decision: r.found ? { requestId: r.requestId, fingerprint: r.fingerprint, outcome: r.outcome, rejectionCode: r.rejectionCode, rejectionMessage: r.rejectionMessage, serialNumber: r.serialNumber } : null,
      base: r.baseFound ? { profile: r.profile, keyId: r.keyId, userId: r.userId, spkiSha256: r.spkiSha256, revoked: r.revoked } : null,
      keyCertified: r.keyCertified,
    }));
  }

  /**
   * The first statement of the issuing transaction: marks the message ids processed for a consumer
   * and takes a shared lock on each base certificate serial, held to the end of the transaction.
   * Answers the ids that were new (the others are duplicates).
   *
   * A revocation takes the same lock exclusively (`lockForRevocation`) and holds it until it commits,
   * so once this returns, every revocation of these bases either committed before, and the next
   * statement's snapshot (`insertIssuedUnlessBaseRevoked`) sees it, or waits for this transaction to
   * commit. Advisory locks, not `FOR SHARE` on the rows: a few cloud-key rows share-locked by every
   * concurrent batch turn into MultiXacts, written to the heap on each lock, which cost the group
   * commit ~15 % of its throughput. Taken in the order of their keys: no deadlocks between batches
   * waiting behind revocations. Bases of duplicates are locked too (shared, harmless); none at all for
   * a batch without an issue.
   */
  async markInboxLockingBases(sql: Queryable, consumer: string, messageIds: readonly string[], baseSerialNumbers: readonly string[]): Promise<Set<string>> {
    // The INSERT is a data-modifying CTE, so it runs whether or not it is read; the locks are a scalar
    // subquery of the one output row, so they are always taken too (a plain CTE would run only if read).
    // Volatile, the lock call is evaluated after the sort.
    const rows: Array<{ fresh: string[] }> = await sql.query(
      `WITH marked AS (
         INSERT INTO inbox (consumer, message_id) SELECT $1, id FROM unnest($2::uuid[]) AS id ON CONFLICT DO NOTHING RETURNING message_id)
       SELECT ARRAY(SELECT message_id::text FROM marked) AS fresh,
              (SELECT count(*) FROM (SELECT pg_advisory_xact_lock_shared(${REVOCATION_LOCK_CLASS}, hashtext(s))
                                       FROM unnest($3::text[]) AS s ORDER BY hashtext(s)) AS locks) AS locked`,
      [consumer, messageIds, [...new Set(baseSerialNumbers)]]);
    return new Set(rows[0]!.fresh);
  }

  /**
   * Records certificates issued for IssueCertificate requests with their decisions, each only if its
   * base certificate is in the registry and not revoked; answers the serial numbers recorded (a
   * certificate left out is refused by the caller). One statement for many. Run after
   * `markInboxLockingBases` in the same transaction: a new statement, so a new snapshot, taken with
   * the bases' locks held, in which every revocation committed before them is visible. Rows are never
   * deleted; a base missing here is refused, not trusted.
   */
  async insertIssuedUnlessBaseRevoked(sql: Queryable, items: ReadonlyArray<{ certificate: NewCertificate; fingerprint: string }>): Promise<Set<string>> {
    if (items.length === 0) return new Set();
    const col = <K extends keyof NewCertificate>(k: K) => items.map((i) => i.certificate[k]);
    const rows: Array<{ serialNumber: string }> = await sql.query(
      `WITH cert AS (
         INSERT INTO issued_certificates (serial_number, profile, request_id, key_id, user_id, base_serial_number, token_serial, subject, issuer,
                                          not_before, not_after, spki_sha256, qc_sscd, der, issued_at)
         SELECT n.* FROM unnest($1::text[], $2::text[], $3::uuid[], $4::uuid[], $5::uuid[], $6::text[], $7::text[], $8::text[], $9::text[],
                                $10::timestamptz[], $11::timestamptz[], $12::text[], $13::boolean[], $14::bytea[], $15::timestamptz[])
                     AS n(serial_number, profile, request_id, key_id, user_id, base_serial_number, token_serial, subject, issuer,
                          not_before, not_after, spki_sha256, qc_sscd, der, issued_at)
          WHERE EXISTS (SELECT 1 FROM issued_certificates b WHERE b.serial_number = n.base_serial_number AND b.revoked_at IS NULL)
         RETURNING serial_number, request_id, issued_at),
       decided AS (
         INSERT INTO issue_requests (request_id, fingerprint, outcome, serial_number, decided_at)
         SELECT cert.request_id, f.fingerprint, 'issued', cert.serial_number, cert.issued_at
           FROM cert JOIN unnest($3::uuid[], $16::text[]) AS f(request_id, fingerprint) ON f.request_id = cert.request_id)
       SELECT serial_number AS "serialNumber" FROM cert`,
      [col('serialNumber'), col('profile'), col('requestId'), col('keyId'), col('userId'), col('baseSerialNumber'), col('tokenSerial'), col('subject'), col('issuer'),
        col('notBefore'), col('notAfter'), col('spkiSha256'), col('qcSscd'), items.map((i) => Buffer.from(i.certificate.der)), col('issuedAt'),
        items.map((i) => i.fingerprint)]);
    return new Set(rows.map((r) => r.serialNumber));
  }

  async insertRejectionsMany(sql: Queryable, items: ReadonlyArray<{ requestId: string; fingerprint: string; code: CertificateRejectionCode; message: string; at: Date }>): Promise<void> {
    if (items.length === 0) return;
    await sql.query(
      `INSERT INTO issue_requests (request_id, fingerprint, outcome, rejection_code, rejection_message, decided_at)
       SELECT r, f, 'rejected', c, m, a FROM unnest($1::uuid[], $2::text[], $3::text[], $4::text[], $5::timestamptz[]) AS x(r, f, c, m, a)`,
      [items.map((i) => i.requestId), items.map((i) => i.fingerprint), items.map((i) => i.code), items.map((i) => i.message), items.map((i) => i.at)]);
  }

  /** Records a certificate that answers no IssueCertificate request (a development cloud key). */
  async insertIssued(manager: EntityManager, c: NewCertificate): Promise<void> {
    await manager.query(
      `INSERT INTO issued_certificates (serial_number, profile, request_id, key_id, user_id, base_serial_number, token_serial, subject, issuer,
         not_before, not_after, spki_sha256, qc_sscd, der, issued_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)`,
      [c.serialNumber, c.profile, c.requestId, c.keyId, c.userId, c.baseSerialNumber, c.tokenSerial, c.subject, c.issuer,
        c.notBefore, c.notAfter, c.spkiSha256, c.qcSscd, Buffer.from(c.der), c.issuedAt]);
  }

  /** Locks the certificate's row for a revocation; null when unknown. */
  async lockForRevocation(manager: EntityManager, serialNumber: string): Promise<{ revokedAt: Date | null; reason: RevocationReason | null } | null> {
    // Exclusive against the issuing transactions' shared lock on this serial as a base (`markInboxLockingBases`),
    // held to our commit: an issue under it either committed before we got the lock, or gets its own
    // after our commit and then inserts in a snapshot that sees this revocation.
    await manager.query(`SELECT pg_advisory_xact_lock(${REVOCATION_LOCK_CLASS}, hashtext($1))`, [serialNumber]);
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
