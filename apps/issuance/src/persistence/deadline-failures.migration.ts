import type { MigrationInterface, QueryRunner } from 'typeorm';

/** Consecutive failures to apply a saga's due deadline: the scheduler's back-off (deadline-backoff.ts). */
export class DeadlineFailures1765000000000 implements MigrationInterface {
  name = 'DeadlineFailures1765000000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query('ALTER TABLE hardware_key_requests ADD COLUMN deadline_failures integer NOT NULL DEFAULT 0');
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query('ALTER TABLE hardware_key_requests DROP COLUMN deadline_failures');
  }
}
