import { Column, Entity, PrimaryColumn } from 'typeorm';

/** The KDF and its parameters, stored with each record so that they can be raised later. */
export interface StoredKdf { alg: 'scrypt'; log2N: number; r: number; p: number; salt: string }

/** A cloud private key in the depository: sealed with the password, then with the server KEK. */
@Entity({ name: 'cloud_key_secrets' })
export class CloudKeySecretEntity {
  @PrimaryColumn({ name: 'key_id', type: 'uuid' }) keyId!: string;
  @Column({ type: 'jsonb' }) kdf!: StoredKdf;
  @Column({ name: 'kek_id', type: 'text' }) kekId!: string;
  @Column({ type: 'bytea' }) sealed!: Buffer;
  /** Wrong passwords in a row (and guesses in flight: each is counted before its KDF runs). */
  @Column({ name: 'failed_attempts', type: 'integer', default: 0 }) failedAttempts!: number;
  @Column({ name: 'access_blocked_at', type: 'timestamptz', precision: 3, nullable: true }) accessBlockedAt!: Date | null;
  @Column({ name: 'access_unblocked_by', type: 'text', nullable: true }) accessUnblockedBy!: string | null;
  @Column({ name: 'updated_at', type: 'timestamptz', precision: 3 }) updatedAt!: Date;
}
