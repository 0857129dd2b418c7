#!/usr/bin/env node
// Benchmark: the key list (ListKeys over NATS request/reply) of the accounts service with 1,000,000
// key accounts, one owner holding 100,000 of them. Prints p50/p99 for the first page and for a page
// 100,000 rows deep (rows 99,951–100,000 of that owner). Targets: p99 ≤ 20 ms, deep within 2× of first.
//
//   node tools/bench/accounts-list.mjs [--iterations 2000] [--limit 50] [--concurrency 8] [--keep]
//
// Needs PostgreSQL (DATABASE_URL, default postgres://postgres@127.0.0.1:5432/postgres) and nats-server
// on PATH (a private server is started). The database `bench_accounts_list` is dropped at the end
// unless --keep is given; a kept, fully seeded one is reused by the next run.
import { availableParallelism, loadavg, cpus } from 'node:os';
import { parseArgs } from 'node:util';
import { randomBytes } from 'node:crypto';
import pg from 'pg';

await import('../ts/register.mjs');
await import('reflect-metadata');

const { values: args } = parseArgs({
  options: {
    iterations: { type: 'string', default: '2000' },
    limit: { type: 'string', default: '50' },
    concurrency: { type: 'string', default: '8' },
    keep: { type: 'boolean', default: false },
  },
});
const ITERATIONS = Number(args.iterations);
const LIMIT = Number(args.limit);
const CONCURRENCY = Number(args.concurrency);
const TOTAL = 1_000_000;
const BIG_OWNER_KEYS = 100_000;
const DEEP = 100_000;

const { startAccounts } = await import('../../apps/accounts/src/accounts.app.ts');
const { encodeKeyCursor } = await import('../../apps/accounts/src/keys/key-cursor.ts');
const { listKeysSql } = await import('../../apps/accounts/src/keys/key-queries.service.ts');
const { developmentKek } = await import('../../apps/accounts/src/config/accounts.config.ts');
const { startTestNats } = await import('@thk/testing');
const { RpcClient } = await import('@thk/messaging');
const { ListKeysV1 } = await import('@thk/contracts');
const { createLogger } = await import('@thk/core');
const { connect } = await import('@nats-io/transport-node');

const serverUrl = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const dbUrl = (() => { const u = new URL(serverUrl); u.pathname = '/bench_accounts_list'; return u.toString(); })();
const BIG_OWNER = "bench_uuid('u0')";

const log = (...a) => console.log(...a);
const ms = (ns) => Number(ns) / 1e6;
const fmt = (x) => x.toFixed(2).padStart(7);

async function seed(client) {
  const [{ n }] = (await client.query('SELECT count(*)::int AS n FROM key_accounts')).rows;
  if (n === TOTAL) { log(`reusing the seeded database (${n.toLocaleString('en')} key accounts)`); return; }
  if (n > 0) await client.query('TRUNCATE cloud_key_secrets, key_accounts, agents, users CASCADE');
  const t0 = process.hrtime.bigint();
  // A stable RFC 9562 version-4 uuid from a text (the contracts accept only proper uuids).
  await client.query(`CREATE OR REPLACE FUNCTION bench_uuid(t text) RETURNS uuid IMMUTABLE LANGUAGE sql
    AS $$ SELECT overlay(overlay(md5(t) placing '4' from 13) placing '8' from 17)::uuid $$`);
  // Bulk load without the secondary indexes, then build them again from their own definitions.
  const indexes = (await client.query(`SELECT indexname, indexdef FROM pg_indexes WHERE tablename = 'key_accounts' AND indexname <> 'key_accounts_pkey'`)).rows;
  await client.query('BEGIN');
  for (const { indexname } of indexes) await client.query(`DROP INDEX ${indexname}`);
  // Seeding only: skip the foreign-key triggers (every reference below is generated consistently).
  await client.query("SET LOCAL session_replication_role = 'replica'");
  // 9,001 users: u0 holds 100,000 keys, the 9,000 others 100 each.
  await client.query(`
    INSERT INTO users (id, full_name, rnokpp, organization, edrpou, position)
    SELECT bench_uuid('u' || i), 'Користувач Номер ' || i, lpad(i::text, 10, '0'),
           CASE WHEN i % 3 = 0 THEN 'ТОВ Ромашка ' || i END, CASE WHEN i % 3 = 0 THEN lpad(i::text, 8, '0') END, NULL
      FROM generate_series(0, 9000) i`);
  // Every 10th key is u0's, spread through the table as if added over years; created_at ties in
  // groups of up to three (i / 30 seconds). u0's keys: a cloud key every 70, the rest temporary
  // hardware keys formed from it; a few revoked, blocked, or past notAfter (read as expired).
  await client.query(`
    INSERT INTO key_accounts (id, user_id, kind, temporary, base_key_id, owner_organization, owner_edrpou, owner_full_name, owner_rnokpp,
      owner_position, status, status_reason, status_changed_at, created_at, cert_serial, cert_subject, cert_issuer, cert_not_before,
      cert_not_after, cert_der, token_agent_id, token_id, token_serial, token_model, token_label, algorithm, request_id)
    SELECT bench_uuid('k' || i),
           CASE WHEN big THEN ${BIG_OWNER} ELSE bench_uuid('u' || (1 + i % 9000)) END,
           CASE WHEN temp THEN 'hardware' ELSE 'cloud' END, temp,
           CASE WHEN temp THEN bench_uuid('k' || (i - i % 70)) END,
           NULL, NULL, 'Користувач Номер ' || CASE WHEN big THEN 0 ELSE 1 + i % 9000 END, lpad((CASE WHEN big THEN 0 ELSE 1 + i % 9000 END)::text, 10, '0'),
           NULL,
           CASE WHEN i % 50 = 3 THEN 'revoked' WHEN i % 50 = 7 THEN 'blocked' ELSE 'active' END,
           CASE WHEN i % 50 = 3 THEN 'certificate-revoked:keyCompromise' WHEN i % 50 = 7 THEN 'base-key-blocked' END,
           created, created,
           to_hex(i) || 'a1b2c3d4e5f6', 'CN=Користувач Номер ' || i || ', SN=Користувач, G=Номер, 2.5.4.5=TINUA-' || lpad(i::text, 10, '0') || ', C=UA',
           'CN=THK Development Issuing CA, C=UA',
           created, created + CASE WHEN i % 50 = 11 THEN interval '1 hour' ELSE interval '2000 days' END,
           decode(repeat('30', 480), 'hex'),
           CASE WHEN temp THEN 'agent-' || (i % 97) END, CASE WHEN temp THEN 'agent-' || (i % 97) || ':' || (200000 + i % 1000) END,
           CASE WHEN temp THEN (200000 + i % 1000)::text END, CASE WHEN temp THEN 'е.ключ IIT Алмаз-1К' END, CASE WHEN temp THEN (200000 + i % 1000)::text END,
           'EC-P256', CASE WHEN temp THEN bench_uuid('r' || i) END
      FROM (SELECT i, i % 10 = 0 AS big, (i % 10 = 0 AND i % 70 <> 0 AND i >= 70) AS temp,
                   timestamptz '2021-01-01 00:00:00+00' + (i / 30) * interval '1 second' AS created
              FROM generate_series(1, ${TOTAL}) i) s`);
  // The depository rows of u0's cloud keys (the list joins them for «access blocked»).
  await client.query(`
    INSERT INTO cloud_key_secrets (key_id, kdf, kek_id, sealed, failed_attempts, access_blocked_at)
    SELECT id, '{"alg":"scrypt","log2N":17,"r":8,"p":1,"salt":"AAAAAAAAAAAAAAAAAAAAAA=="}', 'kek-1', decode(repeat('ab', 170), 'hex'), 0,
           CASE WHEN random() < 0.05 THEN now() END
      FROM key_accounts WHERE kind = 'cloud'`);
  await client.query('SET maintenance_work_mem = \'512MB\'');
  for (const { indexdef } of indexes) await client.query(indexdef);
  await client.query('COMMIT');
  await client.query('VACUUM ANALYZE key_accounts');
  await client.query('VACUUM ANALYZE cloud_key_secrets');
  await client.query('VACUUM ANALYZE users');
  const [{ big }] = (await client.query(`SELECT count(*)::int AS big FROM key_accounts WHERE user_id = ${BIG_OWNER}`)).rows;
  const [{ size }] = (await client.query(`SELECT pg_size_pretty(pg_total_relation_size('key_accounts')) AS size`)).rows;
  log(`seeded ${TOTAL.toLocaleString('en')} key accounts (${big.toLocaleString('en')} for one owner) in ${(ms(process.hrtime.bigint() - t0) / 1000).toFixed(1)} s; key_accounts with indexes: ${size}`);
}

function stats(samplesNs) {
  const s = [...samplesNs].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0)).map(ms);
  const q = (p) => s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)];
  return { n: s.length, p50: q(50), p90: q(90), p99: q(99), max: s[s.length - 1], mean: s.reduce((a, b) => a + b, 0) / s.length };
}

/** Alternates the two requests call by call, so that both see the same machine (other load, GC, caches). */
async function measureAlternating(call, a, b, n) {
  for (let i = 0; i < 200; i++) { await call(a); await call(b); } // warm-up
  const sa = [];
  const sb = [];
  for (let i = 0; i < n; i++) {
    for (const [req, samples] of i % 2 ? [[a, sa], [b, sb]] : [[b, sb], [a, sa]]) {
      const t = process.hrtime.bigint();
      await call(req);
      samples.push(process.hrtime.bigint() - t);
    }
  }
  return [stats(sa), stats(sb)];
}

async function measureConcurrent(rpc, request, n, concurrency) {
  await Promise.all(Array.from({ length: concurrency * 20 }, () => rpc.call(ListKeysV1, request)));
  const samples = [];
  let next = 0;
  const t0 = process.hrtime.bigint();
  await Promise.all(Array.from({ length: concurrency }, async () => {
    while (next < n) {
      next++;
      const t = process.hrtime.bigint();
      await rpc.call(ListKeysV1, request);
      samples.push(process.hrtime.bigint() - t);
    }
  }));
  return { ...stats(samples), perSecond: n / (ms(process.hrtime.bigint() - t0) / 1000) };
}

const nats = await startTestNats();
let accounts;
let nc;
const admin = new pg.Client({ connectionString: serverUrl });
try {
  await admin.connect();
  accounts = await startAccounts({
    nats: { servers: nats.url, name: 'accounts' }, databaseUrl: dbUrl, httpPort: 0, httpHost: '127.0.0.1', devMode: false,
    kek: { id: 'bench', key: randomBytes(32) }, previousKeks: [], kdf: { log2N: 17, r: 8, p: 1 }, kdfConcurrency: 2, kdfMaxQueue: 8, maxPasswordAttempts: 5,
    authorizationTtlSeconds: 300, sweepIntervalMs: 0, caTimeoutMs: 5_000, clock: () => new Date(),
  }, { logger: createLogger('accounts', { level: 'warn' }) });
  void developmentKek;
  const db = new pg.Client({ connectionString: dbUrl });
  await db.connect();
  await seed(db);

  const userId = (await db.query(`SELECT ${BIG_OWNER} AS id`)).rows[0].id;
  // The cursor after row 99,950 of u0: the page it opens holds rows 99,951–100,000.
  const anchor = (await db.query('SELECT created_at, id FROM key_accounts WHERE user_id = $1 ORDER BY created_at DESC, id DESC OFFSET $2 LIMIT 1', [userId, DEEP - LIMIT - 1])).rows[0];
  const deepCursor = encodeKeyCursor({ createdAt: anchor.created_at, id: anchor.id });

  nc = await connect({ servers: nats.url, name: 'bench' });
  const rpc = new RpcClient(nc, 10_000);
  const first = { userId, limit: LIMIT, cursor: null };
  const deep = { userId, limit: LIMIT, cursor: deepCursor };
  const deepPage = await rpc.call(ListKeysV1, deep);
  if (deepPage.items.length !== LIMIT || deepPage.nextCursor !== null) throw new Error(`deep page: ${deepPage.items.length} items, next ${deepPage.nextCursor}`);

  for (const [label, sql, params] of [
    ['first page', listKeysSql(false), [userId, LIMIT + 1]],
    ['deep page ', listKeysSql(true), [userId, anchor.created_at, anchor.id, LIMIT + 1]],
  ]) {
    const plan = (await db.query(`EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) ${sql}`, params)).rows.map((r) => r['QUERY PLAN']);
    log(`\nEXPLAIN ANALYZE, ${label}:\n  ${plan.join('\n  ')}`);
  }

  const row = (label, r) => log(`${label.padEnd(34)} ${String(r.n).padStart(5)} ${fmt(r.p50)} ${fmt(r.p90)} ${fmt(r.p99)} ${fmt(r.max)} ${fmt(r.mean)}`);
  log(`\nmachine: ${availableParallelism()} cores (${cpus()[0]?.model ?? '?'}), load average ${loadavg().map((x) => x.toFixed(2)).join(' ')}, node ${process.version}`);
  log(`limit ${LIMIT}; first and deep calls alternate one by one (${ITERATIONS} each, after 200 warm-up pairs); ms:`);
  log('                                       n     p50     p90     p99     max    mean');
  const rpcCall = (request) => rpc.call(ListKeysV1, request);
  const [f, d] = await measureAlternating(rpcCall, first, deep, ITERATIONS);
  row('ListKeys over NATS, first page', f);
  row('ListKeys over NATS, deep page', d);
  const queries = accounts.services.queries;
  const inProcess = (request) => queries.list(request.userId, request.limit, request.cursor);
  const [fi, di] = await measureAlternating(inProcess, first, deep, ITERATIONS);
  row('in-process KeyQueries.list, first', fi);
  row('in-process KeyQueries.list, deep', di);
  for (const [label, request] of [['first page', first], ['deep page', deep]]) {
    const r = await measureConcurrent(rpc, request, ITERATIONS, CONCURRENCY);
    log(`${`over NATS, ${label}, ${CONCURRENCY} at once`.padEnd(34)} p50 ${fmt(r.p50)}  p99 ${fmt(r.p99)}  ${r.perSecond.toFixed(0)} pages/s`);
  }
  log(`load average after: ${loadavg().map((x) => x.toFixed(2)).join(' ')}`);
  log(`\ntarget p99 ≤ 20 ms over NATS: first ${f.p99.toFixed(2)} ms, deep ${d.p99.toFixed(2)} ms → ${Math.max(f.p99, d.p99) <= 20 ? 'met' : 'NOT met'}`);
  log(`target deep within 2× of first: p50 ${(d.p50 / f.p50).toFixed(2)}×, p99 ${(d.p99 / f.p99).toFixed(2)}× → ${d.p99 <= 2 * f.p99 && d.p50 <= 2 * f.p50 ? 'met' : 'NOT met'}`);
  await db.end();
} finally {
  await nc?.close().catch(() => undefined);
  await accounts?.close().catch(() => undefined);
  await nats.stop().catch(() => undefined);
  if (!args.keep) {
    await admin.query('DROP DATABASE IF EXISTS bench_accounts_list WITH (FORCE)').catch((e) => console.error('could not drop the bench database:', e.message));
  }
  await admin.end().catch(() => undefined);
}
