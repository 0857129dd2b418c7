import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Users, key accounts, the depository's sealed cloud keys and the agent registry.
 *
 * The list query (`WHERE user_id = $1 AND (created_at, id) < ($2, $3) ORDER BY created_at DESC,
 * id DESC LIMIT n`) is answered by one descent of `key_accounts_owner_page`, so a page costs the
 * same at any depth. `created_at` keeps milliseconds only, so that a cursor carried through
 * JavaScript's Date round-trips exactly.
 */
export class AccountsSchema1764900000000 implements MigrationInterface {
  name = 'AccountsSchema1764900000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE users (
        id           uuid PRIMARY KEY,
        full_name    text NOT NULL,
        rnokpp       text NOT NULL,
        organization text,
        edrpou       text,
        position     text,
        created_at   timestamptz(3) NOT NULL DEFAULT now(),
        CONSTRAINT users_rnokpp_unique UNIQUE (rnokpp)
      )`);

    await q.query(`
      CREATE TABLE key_accounts (
        id                  uuid PRIMARY KEY,
        user_id             uuid NOT NULL REFERENCES users (id),
        kind                text NOT NULL CHECK (kind IN ('cloud', 'hardware', 'file')),
        temporary           boolean NOT NULL,
        base_key_id         uuid REFERENCES key_accounts (id),
        owner_organization  text,
        owner_edrpou        text,
        owner_full_name     text NOT NULL,
        owner_rnokpp        text NOT NULL,
        owner_position      text,
        status              text NOT NULL CHECK (status IN ('pending', 'active', 'blocked', 'expired', 'revoked', 'failed')),
        status_reason       text,
        status_changed_at   timestamptz(3) NOT NULL,
        created_at          timestamptz(3) NOT NULL,
        cert_serial         text,
        cert_subject        text,
        cert_issuer         text,
        cert_not_before     timestamptz(3),
        cert_not_after      timestamptz(3),
        cert_der            bytea,
        cert_revoked_at     timestamptz(3),
        cert_revocation_reason text,
        token_agent_id      text,
        token_id            text,
        token_serial        text,
        token_model         text,
        token_label         text,
        token_key_id        text,
        algorithm           text,
        request_id          uuid,
        failure_code        text,
        version             integer NOT NULL DEFAULT 1,
        CONSTRAINT key_accounts_temporary_has_base CHECK (temporary = (base_key_id IS NOT NULL)),
        CONSTRAINT key_accounts_certificate_whole CHECK (
          (cert_serial IS NULL) = (cert_der IS NULL) AND (cert_serial IS NULL) = (cert_not_after IS NULL))
      )`);
    await q.query('CREATE INDEX key_accounts_owner_page ON key_accounts (user_id, created_at DESC, id DESC)');
    await q.query('CREATE INDEX key_accounts_base ON key_accounts (base_key_id) WHERE base_key_id IS NOT NULL');
    await q.query('CREATE INDEX key_accounts_cert_serial ON key_accounts (cert_serial) WHERE cert_serial IS NOT NULL');
    // What the expiry sweep scans: only keys still marked active.
    await q.query(`CREATE INDEX key_accounts_active_not_after ON key_accounts (cert_not_after) WHERE status = 'active'`);

    await q.query(`
      CREATE TABLE cloud_key_secrets (
        key_id            uuid PRIMARY KEY REFERENCES key_accounts (id),
        kdf               jsonb NOT NULL,
        kek_id            text NOT NULL,
        sealed            bytea NOT NULL,
        failed_attempts   integer NOT NULL DEFAULT 0 CHECK (failed_attempts >= 0),
        access_blocked_at timestamptz(3),
        access_unblocked_by text,
        updated_at        timestamptz(3) NOT NULL DEFAULT now()
      )`);

    await q.query(`
      CREATE TABLE agents (
        agent_id          text PRIMARY KEY,
        user_id           uuid NOT NULL REFERENCES users (id),
        registered_at     timestamptz(3) NOT NULL,
        sealing_key       jsonb,
        tokens            jsonb NOT NULL DEFAULT '[]'::jsonb,
        heartbeat_seconds integer,
        last_reported_at  timestamptz(3)
      )`);
    await q.query('CREATE INDEX agents_user ON agents (user_id)');
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query('DROP TABLE agents');
    await q.query('DROP TABLE cloud_key_secrets');
    await q.query('DROP TABLE key_accounts');
    await q.query('DROP TABLE users');
  }
}
