import { Column, Entity, PrimaryColumn } from 'typeorm';
import type { RevocationReason } from '@thk/contracts';

export type CertificateProfileName = 'temporary-hardware-key' | 'cloud-key';

/** The registry: every certificate the CA issued, why, and whether it was revoked. */
@Entity({ name: 'issued_certificates' })
export class IssuedCertificateEntity {
  /** Canonical lower-case hex (see `normalizeSerialHex`). */
  @PrimaryColumn({ name: 'serial_number', type: 'text' }) serialNumber!: string;
  @Column({ type: 'text' }) profile!: CertificateProfileName;
  /** The IssueCertificate request that produced it (temporary keys); null for cloud keys. */
  @Column({ name: 'request_id', type: 'uuid', nullable: true }) requestId!: string | null;
  /** The account key (cloud keys; for temporary keys the base key from the authorization). */
  @Column({ name: 'key_id', type: 'uuid', nullable: true }) keyId!: string | null;
  @Column({ name: 'user_id', type: 'uuid', nullable: true }) userId!: string | null;
  @Column({ name: 'base_serial_number', type: 'text', nullable: true }) baseSerialNumber!: string | null;
  @Column({ name: 'token_serial', type: 'text', nullable: true }) tokenSerial!: string | null;
  @Column({ type: 'text' }) subject!: string;
  @Column({ type: 'text' }) issuer!: string;
  @Column({ name: 'not_before', type: 'timestamptz', precision: 3 }) notBefore!: Date;
  @Column({ name: 'not_after', type: 'timestamptz', precision: 3 }) notAfter!: Date;
  /** SHA-256 of the SubjectPublicKeyInfo: one certificate per public key. */
  @Column({ name: 'spki_sha256', type: 'text' }) spkiSha256!: string;
  @Column({ name: 'qc_sscd', type: 'boolean' }) qcSscd!: boolean;
  @Column({ type: 'bytea' }) der!: Buffer;
  @Column({ name: 'issued_at', type: 'timestamptz', precision: 3 }) issuedAt!: Date;
  @Column({ name: 'revoked_at', type: 'timestamptz', precision: 3, nullable: true }) revokedAt!: Date | null;
  @Column({ name: 'revocation_reason', type: 'text', nullable: true }) revocationReason!: RevocationReason | null;
  @Column({ name: 'revoked_by', type: 'text', nullable: true }) revokedBy!: string | null;
  @Column({ name: 'revocation_comment', type: 'text', nullable: true }) revocationComment!: string | null;
}
