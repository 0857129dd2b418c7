import { Column, Entity, PrimaryColumn } from 'typeorm';

/** Every CRL signed, newest = highest number. */
@Entity({ name: 'crls' })
export class CrlEntity {
  @PrimaryColumn({ name: 'crl_number', type: 'bigint' }) crlNumber!: string;
  @Column({ name: 'this_update', type: 'timestamptz', precision: 3 }) thisUpdate!: Date;
  @Column({ name: 'next_update', type: 'timestamptz', precision: 3 }) nextUpdate!: Date;
  @Column({ type: 'bytea' }) der!: Buffer;
  @Column({ name: 'revoked_count', type: 'integer' }) revokedCount!: number;
}
