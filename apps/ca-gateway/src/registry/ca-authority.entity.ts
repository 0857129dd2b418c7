import { Column, Entity, PrimaryColumn } from 'typeorm';

export type CaKeyStorage = 'software' | 'pkcs11';

/**
 * The issuing CA: its certificate and chain, and where its private key is: sealed here under the
 * key-encryption key (AES-256-GCM over PKCS#8), or in a PKCS#11 token by label.
 * `crlNumber` is the last CRL number used; its row lock serialises CRL signing across replicas.
 */
@Entity({ name: 'ca_authority' })
export class CaAuthorityEntity {
  @PrimaryColumn({ type: 'text' }) id!: string;
  @Column({ type: 'bytea' }) certificate!: Buffer;
  @Column({ name: 'chain_pem', type: 'text' }) chainPem!: string;
  @Column({ name: 'key_storage', type: 'text' }) keyStorage!: CaKeyStorage;
  @Column({ name: 'sealed_key', type: 'bytea', nullable: true }) sealedKey!: Buffer | null;
  @Column({ name: 'kek_id', type: 'text', nullable: true }) kekId!: string | null;
  @Column({ name: 'pkcs11_key_label', type: 'text', nullable: true }) pkcs11KeyLabel!: string | null;
  @Column({ name: 'crl_number', type: 'bigint' }) crlNumber!: string;
  @Column({ name: 'created_at', type: 'timestamptz', precision: 3 }) createdAt!: Date;
}
