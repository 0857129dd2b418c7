import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * The outbox (messages written in the same transaction as the state change that emits them)
 * and the inbox (ids of messages already processed, per consumer). Every service with a database
 * lists this migration first.
 */
export class MessagingTables1764800000000 implements MigrationInterface {
  name = 'MessagingTables1764800000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE outbox (
        seq          bigserial PRIMARY KEY,
        message_id   uuid NOT NULL UNIQUE,
        subject      text NOT NULL,
        envelope     jsonb NOT NULL,
        created_at   timestamptz NOT NULL DEFAULT now(),
        published_at timestamptz,
        attempts     integer NOT NULL DEFAULT 0,
        last_error   text
      )`);
    await q.query(`CREATE INDEX outbox_unpublished ON outbox (seq) WHERE published_at IS NULL`);
    await q.query(`CREATE INDEX outbox_published_at ON outbox (published_at) WHERE published_at IS NOT NULL`);
    await q.query(`
      CREATE TABLE inbox (
        consumer     text NOT NULL,
        message_id   uuid NOT NULL,
        processed_at timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (consumer, message_id)
      )`);
    await q.query(`CREATE INDEX inbox_processed_at ON inbox (processed_at)`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query('DROP TABLE inbox');
    await q.query('DROP TABLE outbox');
  }
}
