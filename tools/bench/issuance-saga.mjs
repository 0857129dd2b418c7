#!/usr/bin/env node
// Benchmark: the issuance service forming temporary hardware keys end to end over real NATS (private
// nats-server) and Postgres, with accounts, the token agent and the CA gateway played by the test
// participants (apps/issuance/test/support/participants.ts) in the same process — they answer at once,
// so the figures are the issuance service's own cost plus the bus and the database, not a token's or a
// KDF's. Prints the start call's latency, the formation's latency (request → `completed` progress
// event, 7 saga steps, 5 commands, ~11 events, 4 transactions), throughput and CPU per formation; and
// the pure saga's decide/evolve rate.
//
//   node tools/bench/issuance-saga.mjs [--sagas 400] [--concurrency 16]
//
// Needs PostgreSQL (DATABASE_URL or 127.0.0.1:5432) and nats-server on PATH. Its database is dropped at the end.
import { register } from 'node:module';
import { randomUUID } from 'node:crypto';
import { cpus, loadavg } from 'node:os';
import { parseArgs } from 'node:util';

register('../ts/hooks.mjs', import.meta.url);
await import('reflect-metadata');
process.env.LOG_LEVEL ??= 'error';

const { values: args } = parseArgs({ options: { sagas: { type: 'string', default: '400' }, concurrency: { type: 'string', default: '16' } } });
const SAGAS = Number(args.sagas);
const CONCURRENCY = Number(args.concurrency);

const { startIssuance } = await import('../../apps/issuance/src/issuance.app.ts');
const { initialState, react } = await import('../../apps/issuance/src/hardware-key/hardware-key.saga.ts');
const { FakeAccounts, FakeAgent, FakeCa } = await import('../../apps/issuance/test/support/participants.ts');
const { RequestTemporaryHardwareKeyV1 } = await import('@thk/contracts');
const { RpcClient } = await import('@thk/messaging');
const { createTestDatabase, startTestNats } = await import('@thk/testing');
const { connect } = await import('@nats-io/transport-node');

const pct = (sorted, p) => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
const ms = (v) => `${v.toFixed(1)} ms`;

// ── the pure saga alone ──
{
  const request = {
    requestId: randomUUID(), userId: randomUUID(), baseKeyId: randomUUID(), keyAccountId: randomUUID(),
    token: { agentId: 'a', tokenId: 'a:1', serial: '1', model: 'm', label: '1' }, algorithm: 'EC-P256',
    validity: { option: 'P1D', notBefore: '2021-08-25T13:59:00.000Z', notAfter: '2021-08-26T13:59:00.000Z', capped: false, cappedBy: null },
    subject: { commonName: 'x', surname: null, givenName: null, serialNumber: 'TINUA-1', organization: null, organizationIdentifier: null, title: null, country: 'UA' },
    authorization: 'a.b.c', sealedNewPin: 'a..b.c.d', requestedAt: '2021-08-25T13:59:00.000Z',
  };
  const evidence = { local: true, neverExtractable: true, alwaysSensitive: true, attestation: null };
  const cert = { serialNumber: '0a', subject: 's', issuer: 'i', notBefore: request.validity.notBefore, notAfter: request.validity.notAfter, der: 'AA==' };
  const inputs = [
    { type: 'Start', request, sealedCurrentPin: null },
    { type: 'TokenKeyGenerated', agentId: 'a', data: { requestId: request.requestId, tokenSerial: '1', keyId: 'ab', algorithm: 'EC-P256', csr: 'AA==', evidence } },
    { type: 'CertificateIssued', data: { requestId: request.requestId, certificate: cert } },
    { type: 'CertificateInstalled', agentId: 'a', data: { requestId: request.requestId, tokenSerial: '1', keyId: 'ab', certificateSerialNumber: '0a' } },
  ];
  const ctx = { now: new Date(), agentStepMs: 120_000, caStepMs: 30_000 };
  const rounds = 20_000;
  const t = process.hrtime.bigint();
  for (let i = 0; i < rounds; i++) {
    let s = initialState;
    for (const input of inputs) s = react(s, input, ctx).state;
    if (s.status !== 'completed') throw new Error('saga did not complete');
  }
  const seconds = Number(process.hrtime.bigint() - t) / 1e9;
  console.log(`pure saga: ${(rounds / seconds).toFixed(0)} whole formations/s decided (${((seconds / rounds) * 1e6).toFixed(1)} µs each, 4 inputs)`);
}

// ── the service ──
const [nats, db] = await Promise.all([startTestNats(), createTestDatabase('bench_issuance')]);
const issuance = await startIssuance({
  nats: { servers: nats.url, name: 'issuance-bench' }, databaseUrl: db.url, httpPort: 0, httpHost: '127.0.0.1',
  agentStepTimeoutMs: 120_000, caStepTimeoutMs: 30_000, deadlinePollMs: 1_000, minimumValidityMs: 3_600_000,
  timeZone: 'Europe/Kyiv', issuerCacheMs: 600_000, rpcTimeoutMs: 10_000, clock: () => new Date(),
});
const nc = await connect({ servers: nats.url, noAsyncTraces: true });
const accounts = new FakeAccounts(nc).start();
const agent = await new FakeAgent(nc, 'bench-agent').start();
const ca = await new FakeCa(nc).start();
const rpc = new RpcClient(nc, 10_000);
const waiters = new Map();
const decoder = new TextDecoder();
nc.subscribe('issuance.evt.hardware-key-request-progressed.v1', {
  callback: (_err, msg) => {
    const e = JSON.parse(decoder.decode(msg.data));
    if (e.data.status === 'completed' || e.data.status === 'failed') waiters.get(e.data.requestId)?.(e.data.status);
  },
});

async function formOne() {
  const key = accounts.addCloudKey();
  const token = accounts.addToken({ userId: key.userId, agentId: agent.agentId });
  const t0 = performance.now();
  const reply = await rpc.call(RequestTemporaryHardwareKeyV1, {
    userId: key.userId, baseKeyId: key.account.id, idempotencyKey: randomUUID(), validity: 'P1M', tokenId: token.view.tokenId,
    cloudKeyPassword: key.password, newKeyPassword: 'eyJhbGciOiJFQ0RILUVTIn0..aXZpdml2aXZpdg.bmV3.dGFndGFndGFn', currentTokenPassword: null, algorithm: 'EC-P256',
  });
  const t1 = performance.now();
  const status = await new Promise((resolve) => waiters.set(reply.requestId, resolve));
  waiters.delete(reply.requestId);
  if (status !== 'completed') throw new Error(`saga ${reply.requestId} ${status}`);
  return { start: t1 - t0, total: performance.now() - t0 };
}

// Warm-up (JIT, pools, the issuer cache).
for (let i = 0; i < 10; i++) await formOne();

const starts = [];
const totals = [];
let next = 0;
const cpu0 = process.cpuUsage();
const wall0 = performance.now();
await Promise.all(Array.from({ length: CONCURRENCY }, async () => {
  while (next < SAGAS) {
    next++;
    const r = await formOne();
    starts.push(r.start);
    totals.push(r.total);
  }
}));
const wall = (performance.now() - wall0) / 1_000;
const cpu = process.cpuUsage(cpu0);
starts.sort((a, b) => a - b);
totals.sort((a, b) => a - b);
console.log(`machine: ${cpus().length} × ${cpus()[0]?.model ?? '?'}, load average ${loadavg().map((l) => l.toFixed(1)).join(' ')}`);
console.log(`${SAGAS} formations, ${CONCURRENCY} at a time: ${(SAGAS / wall).toFixed(1)} formations/s over ${wall.toFixed(1)} s`);
console.log(`  start call (RequestTemporaryHardwareKey, 3 accounts calls + 1 transaction): p50 ${ms(pct(starts, 50))}  p95 ${ms(pct(starts, 95))}  p99 ${ms(pct(starts, 99))}`);
console.log(`  request → completed:                                                  p50 ${ms(pct(totals, 50))}  p95 ${ms(pct(totals, 95))}  p99 ${ms(pct(totals, 99))}`);
console.log(`  CPU of this process (service + participants + relay): ${(((cpu.user + cpu.system) / 1_000) / SAGAS).toFixed(2)} ms per formation`);

await agent.stop();
await ca.stop();
accounts.stop();
await nc.close();
await issuance.close();
await db.drop();
await nats.stop();
