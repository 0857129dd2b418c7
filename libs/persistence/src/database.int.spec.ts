import { createLogger } from '@thk/core';
import { createTestDatabase, type TestDatabase } from '@thk/testing';
import pg from 'pg';
import type { DataSource } from 'typeorm';
import { MessagingTables1764800000000, openDatabase, serviceDatabaseUrl } from './index.js';

describe('openDatabase', () => {
  let db: TestDatabase;
  beforeAll(async () => { db = await createTestDatabase('database'); });
  afterAll(async () => { await db?.drop(); });

  it('does not log the parameters (or the value-quoting message) of a failed query', async () => {
    const lines: string[] = [];
    const printed: string[] = [];
    const levels = ['log', 'info', 'warn', 'error'] as const;
    const originals = levels.map((level) => console[level]);
    for (const level of levels) console[level] = (...args: unknown[]) => { printed.push(args.map(String).join(' ')); };
    const logger = createLogger('db-test', { level: 'debug' }, { write: (line: string) => { lines.push(line); } });
    const ds = await openDatabase({ url: db.url, applicationName: 'test', entities: [], migrations: [MessagingTables1764800000000], logger });
    try {
      await expect(ds.query('SELECT $1::uuid AS id', ['hunter2-not-a-uuid'])).rejects.toThrow();
    } finally {
      await ds.destroy();
      levels.forEach((level, i) => { console[level] = originals[i]!; });
    }
    const failed = lines.find((l) => l.includes('query failed'));
    expect(failed).toBeDefined();
    expect(JSON.parse(failed!)).toMatchObject({ query: 'SELECT $1::uuid AS id', error: { code: '22P02' } });
    expect([...lines, ...printed].join('\n')).not.toContain('hunter2');
  });

  it('lets several replicas create and migrate the same database at once', async () => {
    const name = `${db.name}_race`;
    const url = serviceDatabaseUrl(db.url, name);
    const open = () => openDatabase({ url, applicationName: 'race', entities: [], migrations: [MessagingTables1764800000000] }, { create: true });
    const results = await Promise.allSettled([open(), open(), open()]);
    const opened = results.filter((r): r is PromiseFulfilledResult<DataSource> => r.status === 'fulfilled').map((r) => r.value);
    try {
      expect(results.filter((r) => r.status === 'rejected').map((r) => String((r as PromiseRejectedResult).reason))).toEqual([]);
      const applied: Array<{ name: string }> = await opened[0]!.query('SELECT name FROM schema_migrations');
      expect(applied.map((m) => m.name)).toEqual(['MessagingTables1764800000000']);
    } finally {
      await Promise.all(opened.map((ds) => ds.destroy()));
      const admin = new pg.Client({ connectionString: serviceDatabaseUrl(db.url, 'postgres') });
      await admin.connect();
      await admin.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
      await admin.end();
    }
  });
});
