#!/usr/bin/env node
// Benchmark: what the API gateway adds on top of the bus. The downstream services are test
// participants answering at once over a private nats-server, so the figures are the gateway's own
// cost (HTTP parsing, JWT verification, zod validation, the NATS round trip, serialisation) next to
// the same RPC called directly. Also: SSE fan-out (progress event published → received by a client
// of the stream) and the gateway's start-up time.
//
//   node tools/bench/gateway-overhead.mjs [--requests 3000] [--concurrency 32] [--streams 200]
//
// Needs nats-server on PATH. Client, gateway and participants share one process (and the machine's
// cores), so absolute figures are pessimistic; the ratios are what to read.
import { register } from 'node:module';
import { randomUUID } from 'node:crypto';
import { cpus, loadavg } from 'node:os';
import { request as httpRequest } from 'node:http';
import { parseArgs } from 'node:util';

register('../ts/hooks.mjs', import.meta.url);
await import('reflect-metadata');

const { values: args } = parseArgs({ options: {
  requests: { type: 'string', default: '3000' },
  concurrency: { type: 'string', default: '32' },
  streams: { type: 'string', default: '200' },
} });
const REQUESTS = Number(args.requests);
const CONCURRENCY = Number(args.concurrency);
const STREAMS = Number(args.streams);

const { startApiGateway } = await import('../../apps/api-gateway/src/api-gateway.app.ts');
const { testConfig, createIdentityProvider } = await import('../../apps/api-gateway/src/testing/gateway-harness.ts');
const { DownstreamParticipants } = await import('../../apps/api-gateway/src/testing/downstream-participants.ts');
const { keyAccountFixture, requestViewFixture, sealedPassword } = await import('../../apps/api-gateway/src/testing/fixtures.ts');
const { FindHardwareKeyRequestByIdempotencyKeyV1, GetHardwareKeyRequestV1, ListKeysV1, RequestTemporaryHardwareKeyV2 } = await import('@thk/contracts');
const { RpcClient } = await import('@thk/messaging');
const { startTestNats } = await import('@thk/testing');
const { connect } = await import('@nats-io/transport-node');
const { request: call, closeClient } = await import('./lean-http.mjs');
const { sseReader } = await import('../stack/sse.mjs');

const pct = (sorted, p) => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
const f = (v) => `${v.toFixed(2)} ms`;

/** Runs `fn` `total` times with `concurrency` in flight; returns sorted latencies (ms) and calls/s. */
async function drive(total, concurrency, fn) {
  const lat = [];
  let next = 0;
  const started = performance.now();
  await Promise.all(Array.from({ length: Math.min(concurrency, total) }, async () => {
    while (next < total) {
      const i = next++;
      const t = performance.now();
      await fn(i);
      lat.push(performance.now() - t);
    }
  }));
  const seconds = (performance.now() - started) / 1_000;
  lat.sort((a, b) => a - b);
  return { lat, rps: total / seconds };
}

function line(name, r) {
  return `${name.padEnd(46)} p50 ${f(pct(r.lat, 50)).padStart(9)}  p95 ${f(pct(r.lat, 95)).padStart(9)}  p99 ${f(pct(r.lat, 99)).padStart(9)}  ${r.rps.toFixed(0).padStart(6)}/s`;
}

console.log(`api-gateway overhead — ${cpus().length} cores, load ${loadavg().map((l) => l.toFixed(1)).join(' ')}, node ${process.version}`);
const nats = await startTestNats();
const participants = await DownstreamParticipants.start(nats.url);
const idp = await createIdentityProvider();
const userId = randomUUID();
const keys = Array.from({ length: 20 }, () => keyAccountFixture());
participants.answer(ListKeysV1, ({ limit }) => ({ items: keys.slice(0, limit), nextCursor: null }));
// Every POST carries a fresh Idempotency-Key: the gateway asks issuance whether it was seen (never).
participants.answer(FindHardwareKeyRequestByIdempotencyKeyV1, () => ({ seen: false }));
participants.answer(RequestTemporaryHardwareKeyV2, () => ({ requestId: randomUUID(), status: 'requested', validity: { notBefore: '2021-08-25T13:59:00.000Z', notAfter: '2022-08-25T13:21:00.000Z', capped: false }, replayed: false }));
const requestViews = new Map();
participants.answer(GetHardwareKeyRequestV1, ({ requestId }) => requestViews.get(requestId));

const t0 = performance.now();
const gateway = await startApiGateway(testConfig(nats.url, {
  auth: { publicKeyPem: idp.publicKeyPem },
  rateLimit: { perUser: { burst: 0, perMinute: 0 }, perKey: { burst: 0, perMinute: 0 }, perClient: { burst: 0, perMinute: 0 } },
  rpc: { timeoutMs: 10_000, formingTimeoutMs: 10_000 },
  progress: { bufferedRequests: 10_000, heartbeatMs: 15_000, maxStreamMs: 600_000 },
}), { logLevel: 'silent' });
const startupMs = performance.now() - t0;
const bearer = `Bearer ${await idp.token(userId, { exp: Math.floor(Date.now() / 1_000) + 3_600 })}`;
const nc = await connect({ servers: nats.url });
const rpc = new RpcClient(nc, 10_000);

// Warm-up (JIT, connections, JWT key import caches).
await drive(300, 8, () => call(`${gateway.url}/v1/keys?limit=20`, { headers: { authorization: bearer } }));
await drive(300, 8, () => rpc.call(ListKeysV1, { userId, limit: 20, cursor: null }));

console.log(`\nstart-up (connect, provision streams, feed, Nest init, listen): ${startupMs.toFixed(0)} ms`);
for (const c of [1, CONCURRENCY]) {
  const n = c === 1 ? Math.min(REQUESTS, 1_000) : REQUESTS;
  console.log(`\nconcurrency ${c}, ${n} calls, a page of 20 keys`);
  const direct = await drive(n, c, () => rpc.call(ListKeysV1, { userId, limit: 20, cursor: null }));
  const viaGateway = await drive(n, c, async () => {
    const r = await call(`${gateway.url}/v1/keys?limit=20`, { headers: { authorization: bearer } });
    if (r.status !== 200) throw new Error(`GET /v1/keys → ${r.status} ${r.text}`);
  });
  console.log(line('ListKeys RPC directly', direct));
  console.log(line('GET /v1/keys through the gateway', viaGateway));
  console.log(`${'gateway overhead'.padEnd(46)} p50 +${f(pct(viaGateway.lat, 50) - pct(direct.lat, 50))}  p99 +${f(pct(viaGateway.lat, 99) - pct(direct.lat, 99))}  throughput ×${(viaGateway.rps / direct.rps).toFixed(2)}`);

  const body = JSON.stringify({ validity: 'base', tokenId: 'agent-1:220771', cloudKeyPassword: 'Demo-Cloud-Key-1', newKeyPassword: sealedPassword });
  const keyId = keys[0].id;
  const directForm = await drive(n, c, () => rpc.call(RequestTemporaryHardwareKeyV2, {
    userId, baseKeyId: keyId, idempotencyKey: randomUUID(), validity: 'base', tokenId: 'agent-1:220771', cloudKeyPassword: 'Demo-Cloud-Key-1', newKeyPassword: sealedPassword, currentTokenPassword: null, algorithm: 'EC-P256',
  }));
  const form = await drive(n, c, async () => {
    const r = await call(`${gateway.url}/v1/keys/${keyId}/temporary-hardware-keys`, { method: 'POST', headers: { authorization: bearer, 'idempotency-key': randomUUID() }, body });
    if (r.status !== 202) throw new Error(`POST → ${r.status} ${r.text}`);
  });
  console.log(line('RequestTemporaryHardwareKey RPC directly', directForm));
  console.log(line('POST …/temporary-hardware-keys via gateway', form));
  console.log(`${'gateway overhead'.padEnd(46)} p50 +${f(pct(form.lat, 50) - pct(directForm.lat, 50))}  p99 +${f(pct(form.lat, 99) - pct(directForm.lat, 99))}  throughput ×${(form.rps / directForm.rps).toFixed(2)}`);
}

// ── SSE fan-out: STREAMS open streams, 7 progress events each, published as fast as JetStream takes them ──
{
  const states = ['requested', 'key-generating', 'key-generated', 'certificate-issuing', 'certificate-issued', 'installing', 'completed'];
  const ids = Array.from({ length: STREAMS }, () => randomUUID());
  for (const id of ids) requestViews.set(id, requestViewFixture(id, keys[0].id, ['requested']));
  const sent = new Map();
  const latencies = [];
  let received = 0;
  const streams = await Promise.all(ids.map((id) => new Promise((resolve, reject) => {
    const u = new URL(`${gateway.url}/v1/hardware-key-requests/${id}/events`);
    const req = httpRequest({ host: u.hostname, port: u.port, path: u.pathname, headers: { authorization: bearer, accept: 'text/event-stream' } }, (res) => {
      const done = new Promise((r) => res.on('end', r));
      res.setEncoding('utf8');
      res.on('data', sseReader((ev) => {
        received++;
        const t = sent.get(`${id}:${ev.id}`);
        if (t !== undefined) latencies.push(performance.now() - t);
      }));
      resolve({ done });
    });
    req.on('error', reject);
    req.end();
  })));
  await new Promise((r) => setTimeout(r, 300));
  const started = performance.now();
  for (let seq = 2; seq <= states.length; seq++) {
    await Promise.all(ids.map((id) => {
      sent.set(`${id}:${seq}`, performance.now());
      return participants.publishProgress({ requestId: id, userId, sequence: seq, status: states[seq - 1], at: new Date().toISOString(), keyId: seq === 7 ? randomUUID() : null, failure: null });
    }));
  }
  await Promise.all(streams.map((s) => s.done));
  const seconds = (performance.now() - started) / 1_000;
  latencies.sort((a, b) => a - b);
  console.log(`\nSSE: ${STREAMS} streams × 6 live events (+1 from history), all closed after completed`);
  console.log(`${'published → received by the SSE client'.padEnd(46)} p50 ${f(pct(latencies, 50)).padStart(9)}  p95 ${f(pct(latencies, 95)).padStart(9)}  p99 ${f(pct(latencies, 99)).padStart(9)}  ${(latencies.length / seconds).toFixed(0).padStart(6)} events/s`);
  if (received !== STREAMS * states.length) throw new Error(`received ${received} events, expected ${STREAMS * states.length}`);
}

closeClient();
await gateway.close();
await nc.drain();
await participants.close();
await nats.stop();
