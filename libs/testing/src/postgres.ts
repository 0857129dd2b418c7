import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { containersAvailable } from './container-runtime.js';

export interface TestDatabase {
  /** A connection URL to a database that exists only for this test file. */
  url: string;
  name: string;
  /** The server it lives on (its `postgres` database), for checks from outside the database. */
  serverUrl: string;
  /** Drops the database (and stops its container, if any). */
  drop(): Promise<void>;
}

/** The server URL used when no container runtime answers: `DATABASE_URL`, `PG*`, or 127.0.0.1:5432. */
export function localServerUrl(): string {
  if (process.env['TEST_DATABASE_URL']) return process.env['TEST_DATABASE_URL'];
  if (process.env['DATABASE_URL']) return process.env['DATABASE_URL'];
  const host = process.env['PGHOST'] ?? '127.0.0.1';
  const port = process.env['PGPORT'] ?? '5432';
  const user = process.env['PGUSER'] ?? 'postgres';
  const password = process.env['PGPASSWORD'] ? `:${encodeURIComponent(process.env['PGPASSWORD'])}` : '';
  return `postgres://${user}${password}@${host}:${port}/postgres`;
}

function withDatabase(url: string, database: string): string {
  const u = new URL(url);
  u.pathname = `/${database}`;
  return u.toString();
}

async function createOn(serverUrl: string, prefix: string): Promise<TestDatabase> {
  const name = `t_${prefix.replace(/[^a-z0-9]/gi, '_').toLowerCase().slice(0, 30)}_${randomBytes(5).toString('hex')}`;
  const admin = new pg.Client({ connectionString: serverUrl });
  await admin.connect();
  try {
    await admin.query(`CREATE DATABASE "${name}"`);
  } finally {
    await admin.end();
  }
  return {
    url: withDatabase(serverUrl, name),
    name,
    serverUrl,
    async drop() {
      const c = new pg.Client({ connectionString: serverUrl });
      await c.connect();
      try {
        await c.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
      } finally {
        await c.end();
      }
    },
  };
}

/**
 * A fresh, empty database for one spec file: in a PostgreSQL container where a container runtime
 * answers, otherwise on the local server. Nothing is shared with other tests or earlier runs.
 */
export async function createTestDatabase(prefix = 'spec'): Promise<TestDatabase> {
  if (await containersAvailable()) {
    const { PostgreSqlContainer } = await import('@testcontainers/postgresql');
    const container = await new PostgreSqlContainer('postgres:15-alpine').start();
    const db = await createOn(container.getConnectionUri(), prefix);
    return { ...db, async drop() { await db.drop().catch(() => undefined); await container.stop(); } };
  }
  return createOn(localServerUrl(), prefix);
}
