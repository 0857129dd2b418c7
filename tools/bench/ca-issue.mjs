#!/usr/bin/env node
// Benchmark: certificates issued per second by the CA gateway alone (P-256 CA key in software),
// each durably recorded (registry row, request decision, inbox mark and outbox row committed in
// Postgres, then CertificateIssued published to JetStream by the outbox relay), next to
// `openssl speed -seconds 3 ecdsap256` on the same machine in the same run. Target: ≥ 1,000/s.
//
//   node tools/bench/ca-issue.mjs [--count 5000] [--concurrency 256] [--pool 20] [--bases 50] [--replicas 1] [--profile out.cpuprofile]
//
// --replicas N > 1 runs N gateway processes sharing the durable consumer (as a deployment scales
// out); 1 runs the gateway inside this process.
//
// How: the gateway is started once to certify base (cloud) keys; N complete IssueCertificate
// commands (fresh P-256 token key, CSR, ES256 authorization) are prepared and published to the CA
// stream while the gateway is stopped; then the gateway is started again and the clock runs from
// that start until the N-th CertificateIssued arrives on NATS. Every answer is checked (no
// refusal), and the registry is counted at the end.
// Needs PostgreSQL (DATABASE_URL, default postgres://postgres@127.0.0.1:5432/postgres; a fresh
// database is created and dropped) and nats-server on PATH (a private server is started).
import { register } from 'node:module';
import { execFile } from 'node:child_process';
import { availableParallelism, cpus, loadavg } from 'node:os';
import { parseArgs } from 'node:util';
import { generateKeyPairSync, sign, randomUUID } from 'node:crypto';
import { performance } from 'node:perf_hooks';

register('../ts/hooks.mjs', import.meta.url);
await import('reflect-metadata');

const { values: args } = parseArgs({
  options: {
    count: { type: 'string', default: '5000' },
    concurrency: { type: 'string', default: '256' },
    pool: { type: 'string', default: '20' },
    bases: { type: 'string', default: '50' },
    profile: { type: 'string' },
    replicas: { type: 'string', default: '1' },
  },
});
const COUNT = Number(args.count);
const CONCURRENCY = Number(args.concurrency);
const POOL = Number(args.pool);
const BASES = Number(args.bases);
const REPLICAS = Number(args.replicas);

process.env.LOG_LEVEL ??= 'silent';
const { CaGatewayHarness } = await import('../../apps/ca-gateway/src/testing/ca-gateway-harness.ts');
const { startCaGateway } = await import('../../apps/ca-gateway/src/ca-gateway.app.ts');
const { createTestDatabase, startTestNats } = await import('@thk/testing');
const { IssueCertificateV1, CertificateIssuedV1, CertificateRejectedV1 } = await import('@thk/contracts');
const { buildCsr, personSubjectToNameDer, signAuthorization, parseCertificate, ecdsaP1363ToDer } = await import('@thk/pki');
const { createLogger } = await import('@thk/core');

function opensslSpeed() {
  return new Promise((resolve) => {
    execFile('openssl', ['speed', '-seconds', '3', 'ecdsap256'], { timeout: 60_000 }, (error, stdout, stderr) => {
      const line = `${stdout}`.split('\n').find((l) => /256 bits ecdsa \(nistp256\)/.test(l));
      const m = line?.trim().split(/\s+/);
      // "256 bits ecdsa (nistp256)   0.0000s   0.0001s  34000.0  11000.0"
      resolve(m ? { sign: Number(m[m.length - 2]), verify: Number(m[m.length - 1]), line: line.trim() } : { error: error?.message ?? stderr });
    });
  });
}

const fmt = (n, d = 0) => n.toLocaleString('en-US', { maximumFractionDigits: d, minimumFractionDigits: d });

console.log(`ca-issue benchmark: ${COUNT} certificates, ${REPLICAS} gateway replica(s), consumer concurrency ${CONCURRENCY}, DB pool ${POOL}`);
console.log(`machine: ${availableParallelism()} cores (${cpus()[0]?.model}), load average ${loadavg().map((l) => l.toFixed(2)).join(' ')}, node ${process.version}`);

console.log('\n[1/4] openssl speed -seconds 3 ecdsap256 …');
const speed = await opensslSpeed();
console.log(speed.line ? `  ${speed.line}\n  → ${fmt(speed.sign)} sign/s, ${fmt(speed.verify)} verify/s (one core)` : `  openssl speed failed: ${speed.error}`);

const nats = await startTestNats();
const db = await createTestDatabase('bench_ca_issue');
const h = new CaGatewayHarness({ logger: createLogger('ca-bench', { level: 'silent' }) });
let exitCode = 0;
try {
  console.log('\n[2/4] preparing: base keys certified by the gateway, then commands …');
  await h.start({ databaseUrl: db.url, natsUrl: nats.url, config: { consumerConcurrency: CONCURRENCY, dbPoolSize: POOL, clock: () => new Date() } });
  h.now = new Date();
  const bases = [];
  for (let i = 0; i < BASES; i++) bases.push(await h.certifiedBaseKey({ notAfter: new Date(Date.now() + 365 * 86_400_000) }));
  const t0 = performance.now();
  const envelopes = [];
  for (let i = 0; i < COUNT; i++) {
    const base = bases[i % bases.length];
    const requestId = randomUUID();
    const now = new Date();
    const { publicKey, privateKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
    const csr = await buildCsr({
      subject: personSubjectToNameDer(base.subject),
      spki: new Uint8Array(publicKey.export({ format: 'der', type: 'spki' })),
      keyAlgorithm: 'EC-P256',
      sign: async (data) => ecdsaP1363ToDer(sign('sha256', data, { key: privateKey, dsaEncoding: 'ieee-p1363' })),
    });
    const authorization = await signAuthorization(
      { sub: base.userId, jti: requestId, baseKeyId: base.keyId, tokenSerial: '220771', validity: 'P1W', notAfterCap: base.notAfter.toISOString() },
      { privateKey: base.privateKey, certificate: base.certificate, now },
    );
    envelopes.push(h.issueEnvelope({
      requestId, profile: 'temporary-hardware-key', csr: Buffer.from(csr).toString('base64'), authorization, tokenSerial: '220771', algorithm: 'EC-P256',
      notBefore: now.toISOString(), notAfter: new Date(now.getTime() + 7 * 86_400_000).toISOString(),
      evidence: { local: true, neverExtractable: true, alwaysSensitive: true, attestation: null },
    }));
  }
  console.log(`  ${BASES} base keys, ${COUNT} commands prepared in ${fmt((performance.now() - t0) / 1000, 1)} s`);

  await h.gateway.close();
  const subject = IssueCertificateV1.subject();
  for (let i = 0; i < envelopes.length; i += 500) await Promise.all(envelopes.slice(i, i + 500).map((e) => h.publisher.publish(subject, e)));
  console.log(`  ${COUNT} IssueCertificate commands waiting in the CA stream; gateway stopped`);

  console.log('\n[3/4] starting the gateway and issuing …');
  const wanted = new Set(envelopes.map((e) => e.data.requestId));
  let issued = 0;
  let rejected = 0;
  let firstAt = 0;
  let lastAt = 0;
  let resolveDone;
  const done = new Promise((r) => { resolveDone = r; });
  const sub = h.client.subscribe('ca.evt.>', {
    callback: (_err, msg) => {
      const env = msg.json();
      if (!wanted.has(env.data?.requestId)) return;
      wanted.delete(env.data.requestId);
      if (msg.subject === CertificateIssuedV1.subject()) issued++;
      else if (msg.subject === CertificateRejectedV1.subject()) { rejected++; if (rejected <= 3) console.log(`  refused: ${env.data.code} ${env.data.message}`); }
      const t = performance.now();
      if (!firstAt) firstAt = t;
      lastAt = t;
      if (wanted.size === 0) resolveDone();
    },
  });
  let session;
  if (args.profile) {
    const { Session } = await import('node:inspector/promises');
    session = new Session();
    session.connect();
    await session.post('Profiler.enable');
    await session.post('Profiler.start');
  }
  const cpu0 = process.cpuUsage();
  const start = performance.now();
  const children = [];
  if (REPLICAS > 1) {
    const { fork } = await import('node:child_process');
    const benchConfig = JSON.stringify({
      databaseUrl: db.url, natsUrl: nats.url, kek: h.config.kek.key.toString('base64'), kekId: h.config.kek.id,
      consumerConcurrency: CONCURRENCY, dbPoolSize: POOL, ca: h.config.ca,
    });
    const url = new URL('./ca-replica.mjs', import.meta.url);
    for (let i = 0; i < REPLICAS; i++) {
      const child = fork(url, [], { execArgv: ['--import', new URL('./ca-register.mjs', import.meta.url).href], env: { ...process.env, CA_BENCH_CONFIG: benchConfig }, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
      children.push({ child, ready: new Promise((r) => child.on('message', (m) => { if (m.ready) r(); })) });
    }
    await Promise.all(children.map((c) => c.ready));
  } else {
    h.gateway = await startCaGateway(h.config, { logger: createLogger('ca-bench', { level: 'silent' }) });
  }
  const started = performance.now();
  const timeout = setTimeout(() => resolveDone(), Math.max(60_000, COUNT * 20));
  await done;
  clearTimeout(timeout);
  const end = performance.now();
  let cpu = process.cpuUsage(cpu0);
  if (children.length) {
    const childCpu = await Promise.all(children.map(({ child }) => new Promise((r) => { child.on('message', (m) => { if (m.stopped) r(m.cpuMs); }); child.send({ stop: true }); })));
    cpu = { user: cpu.user + childCpu.reduce((a, b) => a + b, 0) * 1000, system: cpu.system };
    h.gateway = await startCaGateway(h.config, { logger: createLogger('ca-bench', { level: 'silent' }) });
  }
  sub.unsubscribe();
  if (session) {
    const { profile } = await session.post('Profiler.stop');
    (await import('node:fs')).writeFileSync(args.profile, JSON.stringify(profile));
    console.log(`  CPU profile of the issuing phase written to ${args.profile}`);
  }

  const [{ n: rows }] = await h.gateway.dataSource.query(`SELECT count(*)::int AS n FROM issued_certificates WHERE profile = 'temporary-hardware-key'`);
  const [{ n: decisions }] = await h.gateway.dataSource.query(`SELECT count(*)::int AS n FROM issue_requests WHERE outcome = 'issued'`);
  const sample = await h.gateway.dataSource.query(`SELECT der FROM issued_certificates WHERE profile = 'temporary-hardware-key' LIMIT 1`);
  parseCertificate(new Uint8Array(sample[0].der)); // the product is a certificate

  const total = (end - start) / 1000;
  const steady = (lastAt - firstAt) / 1000;
  console.log(`  answered ${issued + rejected}/${COUNT}: ${issued} issued, ${rejected} refused; registry rows ${rows}, issued decisions ${decisions}`);
  console.log(`  gateway start ${fmt(started - start)} ms; first certificate ${fmt(firstAt - start)} ms after start; last ${fmt(end - start)} ms after start`);
  console.log(`  CPU of the gateway process(es) and the event tap: ${fmt((cpu.user + cpu.system) / 1000 / COUNT, 3)} ms per certificate`);

  console.log('\n[4/4] results');
  const rateTotal = issued / total;
  const rateSteady = steady > 0 ? (issued - 1) / steady : rateTotal;
  console.log(`  certificates/s, gateway start to last CertificateIssued on NATS: ${fmt(rateTotal)} /s`);
  console.log(`  certificates/s, first to last CertificateIssued (steady state):   ${fmt(rateSteady)} /s`);
  if (speed.sign) console.log(`  openssl speed ecdsap256 (same run, one core):                    ${fmt(speed.sign)} sign/s, ${fmt(speed.verify)} verify/s`);
  console.log(`  target ≥ 1,000/s: ${rateTotal >= 1000 ? 'met' : 'NOT met'}`);
  if (issued !== COUNT || rows !== COUNT) exitCode = 1;
} catch (error) {
  console.error(error);
  exitCode = 1;
} finally {
  await h.close().catch(() => undefined);
  await db.drop().catch(() => undefined);
  await nats.stop().catch(() => undefined);
}
process.exit(exitCode);
