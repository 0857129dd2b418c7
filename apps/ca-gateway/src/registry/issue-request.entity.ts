import { Column, Entity, PrimaryColumn } from 'typeorm';
import type { CertificateRejectionCode } from '@thk/contracts';

/**
 * The decision taken for each IssueCertificate request id (its authorization's `jti`): one request
 * id gives one answer. The same request again gets the same answer; anything else under the same
 * id is refused.
 */
@Entity({ name: 'issue_requests' })
export class IssueRequestEntity {
  @PrimaryColumn({ name: 'request_id', type: 'uuid' }) requestId!: string;
  /** SHA-256 over the request's content (CSR, authorization, window, token, evidence). */
  @Column({ type: 'text' }) fingerprint!: string;
  @Column({ type: 'text' }) outcome!: 'issued' | 'rejected';
  @Column({ name: 'rejection_code', type: 'text', nullable: true }) rejectionCode!: CertificateRejectionCode | null;
  @Column({ name: 'rejection_message', type: 'text', nullable: true }) rejectionMessage!: string | null;
  @Column({ name: 'serial_number', type: 'text', nullable: true }) serialNumber!: string | null;
  @Column({ name: 'decided_at', type: 'timestamptz', precision: 3 }) decidedAt!: Date;
}
