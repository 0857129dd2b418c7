import type { MigrationInterface, QueryRunner } from 'typeorm';

export class IssuanceSchema1764900000000 implements MigrationInterface {
  name = 'IssuanceSchema1764900000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE hardware_key_requests (
        request_id         uuid PRIMARY KEY,
        user_id            uuid NOT NULL,
        idempotency_key    text NOT NULL,
        input_hash         text NOT NULL,
        status             text NOT NULL,
        agent_id           text NOT NULL,
        certificate_serial text,
        deadline_at        timestamptz,
        version            integer NOT NULL,
        state              jsonb NOT NULL,
        reply              jsonb NOT NULL,
        created_at         timestamptz NOT NULL,
        updated_at         timestamptz NOT NULL,
        CONSTRAINT hardware_key_requests_idempotency UNIQUE (user_id, idempotency_key)
      )`);
    // The scheduler's scan: only sagas that wait for something.
    await q.query('CREATE INDEX hardware_key_requests_deadline ON hardware_key_requests (deadline_at) WHERE deadline_at IS NOT NULL');
    // CertificateRevoked names only the serial number.
    await q.query('CREATE INDEX hardware_key_requests_certificate ON hardware_key_requests (certificate_serial) WHERE certificate_serial IS NOT NULL');
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query('DROP TABLE hardware_key_requests');
  }
}
