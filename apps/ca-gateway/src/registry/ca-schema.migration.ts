import type { MigrationInterface, QueryRunner } from 'typeorm';

/** The CA gateway's schema: the issuing CA, the certificate registry, request decisions, CRLs. */
export class CaSchema1765000000000 implements MigrationInterface {
  name = 'CaSchema1765000000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE ca_authority (
        id               text PRIMARY KEY,
        certificate      bytea NOT NULL,
        chain_pem        text NOT NULL,
        key_storage      text NOT NULL CHECK (key_storage IN ('software', 'pkcs11')),
        sealed_key       bytea,
        kek_id           text,
        pkcs11_key_label text,
        crl_number       bigint NOT NULL DEFAULT 0,
        created_at       timestamptz NOT NULL,
        CHECK ((key_storage = 'software') = (sealed_key IS NOT NULL))
      )`);
    await q.query(`
      CREATE TABLE issued_certificates (
        serial_number      text PRIMARY KEY,
        profile            text NOT NULL,
        request_id         uuid UNIQUE,
        key_id             uuid,
        user_id            uuid,
        base_serial_number text,
        token_serial       text,
        subject            text NOT NULL,
        issuer             text NOT NULL,
        not_before         timestamptz NOT NULL,
        not_after          timestamptz NOT NULL,
        spki_sha256        text NOT NULL UNIQUE,
        qc_sscd            boolean NOT NULL,
        der                bytea NOT NULL,
        issued_at          timestamptz NOT NULL,
        revoked_at         timestamptz,
        revocation_reason  text,
        revoked_by         text,
        revocation_comment text,
        CHECK ((revoked_at IS NULL) = (revocation_reason IS NULL))
      )`);
    await q.query(`CREATE INDEX issued_certificates_revoked ON issued_certificates (not_after) WHERE revoked_at IS NOT NULL`);
    await q.query(`CREATE INDEX issued_certificates_key ON issued_certificates (key_id)`);
    await q.query(`CREATE INDEX issued_certificates_base ON issued_certificates (base_serial_number)`);
    await q.query(`
      CREATE TABLE issue_requests (
        request_id        uuid PRIMARY KEY,
        fingerprint       text NOT NULL,
        outcome           text NOT NULL CHECK (outcome IN ('issued', 'rejected')),
        rejection_code    text,
        rejection_message text,
        serial_number     text REFERENCES issued_certificates (serial_number),
        decided_at        timestamptz NOT NULL,
        CHECK ((outcome = 'issued') = (serial_number IS NOT NULL))
      )`);
    await q.query(`
      CREATE TABLE crls (
        crl_number    bigint PRIMARY KEY,
        this_update   timestamptz NOT NULL,
        next_update   timestamptz NOT NULL,
        der           bytea NOT NULL,
        revoked_count integer NOT NULL
      )`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query('DROP TABLE crls');
    await q.query('DROP TABLE issue_requests');
    await q.query('DROP TABLE issued_certificates');
    await q.query('DROP TABLE ca_authority');
  }
}
