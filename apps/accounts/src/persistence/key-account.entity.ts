import { Column, Entity, PrimaryColumn } from 'typeorm';
import type { KeyStatus } from '@thk/contracts';

export type KeyKind = 'cloud' | 'hardware' | 'file';

/** One row of the cabinet's key list: a cloud key, or a temporary key formed from one. */
@Entity({ name: 'key_accounts' })
export class KeyAccountEntity {
  @PrimaryColumn({ type: 'uuid' }) id!: string;
  @Column({ name: 'user_id', type: 'uuid' }) userId!: string;
  @Column({ type: 'text' }) kind!: KeyKind;
  @Column({ type: 'boolean' }) temporary!: boolean;
  @Column({ name: 'base_key_id', type: 'uuid', nullable: true }) baseKeyId!: string | null;

  @Column({ name: 'owner_organization', type: 'text', nullable: true }) ownerOrganization!: string | null;
  @Column({ name: 'owner_edrpou', type: 'text', nullable: true }) ownerEdrpou!: string | null;
  @Column({ name: 'owner_full_name', type: 'text' }) ownerFullName!: string;
  @Column({ name: 'owner_rnokpp', type: 'text' }) ownerRnokpp!: string;
  @Column({ name: 'owner_position', type: 'text', nullable: true }) ownerPosition!: string | null;

  /** The persisted status; `active` past the certificate's notAfter reads `expired` (see key-state.ts). */
  @Column({ type: 'text' }) status!: KeyStatus;
  @Column({ name: 'status_reason', type: 'text', nullable: true }) statusReason!: string | null;
  @Column({ name: 'status_changed_at', type: 'timestamptz', precision: 3 }) statusChangedAt!: Date;
  @Column({ name: 'created_at', type: 'timestamptz', precision: 3 }) createdAt!: Date;

  @Column({ name: 'cert_serial', type: 'text', nullable: true }) certSerial!: string | null;
  @Column({ name: 'cert_subject', type: 'text', nullable: true }) certSubject!: string | null;
  @Column({ name: 'cert_issuer', type: 'text', nullable: true }) certIssuer!: string | null;
  @Column({ name: 'cert_not_before', type: 'timestamptz', precision: 3, nullable: true }) certNotBefore!: Date | null;
  @Column({ name: 'cert_not_after', type: 'timestamptz', precision: 3, nullable: true }) certNotAfter!: Date | null;
  @Column({ name: 'cert_der', type: 'bytea', nullable: true }) certDer!: Buffer | null;
  @Column({ name: 'cert_revoked_at', type: 'timestamptz', precision: 3, nullable: true }) certRevokedAt!: Date | null;
  @Column({ name: 'cert_revocation_reason', type: 'text', nullable: true }) certRevocationReason!: string | null;

  @Column({ name: 'token_agent_id', type: 'text', nullable: true }) tokenAgentId!: string | null;
  @Column({ name: 'token_id', type: 'text', nullable: true }) tokenId!: string | null;
  @Column({ name: 'token_serial', type: 'text', nullable: true }) tokenSerial!: string | null;
  @Column({ name: 'token_model', type: 'text', nullable: true }) tokenModel!: string | null;
  @Column({ name: 'token_label', type: 'text', nullable: true }) tokenLabel!: string | null;
  @Column({ name: 'token_key_id', type: 'text', nullable: true }) tokenKeyId!: string | null;
  @Column({ type: 'text', nullable: true }) algorithm!: string | null;

  /** The hardware key request that formed this key (null for a cloud key). */
  @Column({ name: 'request_id', type: 'uuid', nullable: true }) requestId!: string | null;
  @Column({ name: 'failure_code', type: 'text', nullable: true }) failureCode!: string | null;
  @Column({ type: 'integer', default: 1 }) version!: number;
}
