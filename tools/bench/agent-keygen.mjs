#!/usr/bin/env node
// Benchmark: the token agent on SoftHSM2. Prints
//  1. libs/pkcs11 alone: P-256 / RSA-2048 key generation as token objects, one ECDSA signature,
//     one token-signed CSR (build + verify), a full slot scan (tokens + mechanisms);
//  2. the agent end to end: GenerateTokenKey published → TokenKeyGenerated stored in JetStream
//     (PIN step, keygen, evidence read-back, CSR, journal fsyncs, publish), sequential requests;
//  3. the same for InstallCertificate → CertificateInstalled.
//
//   node tools/bench/agent-keygen.mjs [--ec 30] [--rsa 5] [--tokendir /dev/shm]
//
// Needs softhsm2 and nats-server on PATH (a private server and SoftHSM store are created and removed).
// `--tokendir /dev/shm` puts the SoftHSM store on tmpfs (file writes dominate token-object keygen).
import { register } from 'node:module';
import { spawn } from 'node:child_process';
import { mkdtemp, mkdir, rm, writeFile } from 'node:fs/promises';
import { execFileSync } from 'node:child_process';
import { createServer } from 'node:net';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { randomBytes, webcrypto } from 'node:crypto';

register('../ts/hooks.mjs', import.meta.url);
await import('reflect-metadata');

const { values: args } = parseArgs({ options: { ec: { type: 'string', default: '30' }, rsa: { type: 'string', default: '5' }, tokendir: { type: 'string' } } });
const EC = Number(args.ec);
const RSA = Number(args.rsa);
const MODULE = ['/usr/lib/softhsm/libsofthsm2.so', '/usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so'].find((p) => { try { execFileSync('test', ['-f', p]); return true; } catch { return false; } });
const SO_PIN = 'so-pin-8765';
const PIN = 'bench-pin-0001';

const pct = (xs, p) => { const s = [...xs].sort((a, b) => a - b); return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))]; };
const fmt = (xs) => `n=${xs.length} p50 ${pct(xs, 50).toFixed(1)} ms  p95 ${pct(xs, 95).toFixed(1)} ms  max ${Math.max(...xs).toFixed(1)} ms`;
const time = async (fn) => { const t = performance.now(); await fn(); return performance.now() - t; };

const base = await mkdtemp(join(args.tokendir ?? tmpdir(), 'thk-bench-agent-'));
await mkdir(join(base, 'tokens'));
await writeFile(join(base, 'softhsm2.conf'), `directories.tokendir = ${join(base, 'tokens')}\nobjectstore.backend = file\nlog.level = ERROR\n`);
process.env.SOFTHSM2_CONF = join(base, 'softhsm2.conf');
execFileSync('softhsm2-util', ['--init-token', '--free', '--label', 'bench-lib', '--so-pin', SO_PIN, '--pin', PIN]);
execFileSync('softhsm2-util', ['--init-token', '--free', '--label', 'bench-agent', '--so-pin', SO_PIN, '--pin', PIN]);

const port = await new Promise((r) => { const s = createServer(); s.listen(0, '127.0.0.1', () => { const p = s.address().port; s.close(() => r(p)); }); });
const nats = spawn('nats-server', ['-js', '-a', '127.0.0.1', '-p', String(port), '-sd', join(base, 'js')], { stdio: 'ignore' });
await new Promise((r) => setTimeout(r, 500));

console.log(`token agent benchmark — SoftHSM store ${base}, load average ${loadavg().map((l) => l.toFixed(2)).join(' ')}`);

// 1. the library alone
const { Pkcs11Module, createTokenCsr } = await import('../../libs/pkcs11/src/index.ts');
{
  const module = Pkcs11Module.open(MODULE);
  const token = module.tokens().find((t) => t.label === 'bench-lib');
  const session = module.openSession(token.slotId);
  session.login(PIN);
  const ecGen = [], rsaGen = [], sign = [], csr = [], scan = [];
  let pair;
  for (let i = 0; i < EC; i++) ecGen.push(await time(async () => { pair = await session.generateKeyPair({ algorithm: 'EC-P256', id: randomBytes(16), label: `ec-${i}` }); }));
  for (let i = 0; i < RSA; i++) rsaGen.push(await time(() => session.generateKeyPair({ algorithm: 'RSA-2048', id: randomBytes(16), label: `rsa-${i}` })));
  for (let i = 0; i < 200; i++) sign.push(await time(() => session.sign(pair.privateKey, 'EC-P256', Buffer.from('x'))));
  for (let i = 0; i < 30; i++) csr.push(await time(() => createTokenCsr({ session, keyPair: pair, name: [{ CN: ['Bench'] }] })));
  session.close();
  for (let i = 0; i < 30; i++) scan.push(await time(async () => module.tokens()));
  module.close();
  console.log('libs/pkcs11');
  console.log(`  P-256 keygen (token objects)   ${fmt(ecGen)}`);
  console.log(`  RSA-2048 keygen (async)        ${fmt(rsaGen)}`);
  console.log(`  ECDSA P-256 sign (C_Sign)      ${fmt(sign)}`);
  console.log(`  CSR built + verified           ${fmt(csr)}`);
  console.log(`  token scan (2 tokens)          ${fmt(scan)}`);
}

// 2. the agent end to end
const { startTokenAgent } = await import('../../apps/token-agent/src/token-agent.app.ts');
const { AgentBus, sealPin } = await import('../../apps/token-agent/src/testing/agent-test-kit.ts');
const { GenerateTokenKeyV1, InstallCertificateV1 } = await import('../../libs/contracts/src/index.ts');
const { X509CertificateGenerator, Pkcs10CertificateRequest } = await import('@peculiar/x509');
const natsUrl = `nats://127.0.0.1:${port}`;
const { pino } = await import('pino');
const agent = await startTokenAgent({
  agentId: 'bench', nats: { servers: natsUrl, name: 'bench' }, modules: [MODULE], rescan: 'slot-list', soPin: SO_PIN, stateDir: join(base, 'state'),
  pinPolicy: { minLength: 6, maxLength: 32 }, heartbeatSeconds: 600, pollIntervalMs: 60_000, ackWaitSeconds: 60, provisionStreams: true, allowFinalTry: false,
}, { logger: pino({ level: 'warn' }) });
const bus = await AgentBus.connect(natsUrl);
const serial = agent.status().tokens.find((t) => t.label === 'bench-agent').serial;
const subject = { commonName: 'Bench', surname: null, givenName: null, serialNumber: 'TINUA-1', organization: null, organizationIdentifier: null, title: null, country: 'UA' };
const sealed = await sealPin(agent.sealingKey, PIN);

const waitFor = (type, requestId) => new Promise((resolve) => {
  const sub = bus.nc.subscribe(`agent.bench.evt.>`, { callback: (_e, m) => { const env = m.json(); if (env.type === type && env.data.requestId === requestId) { sub.unsubscribe(); resolve(env); } } });
});
const ca = await webcrypto.subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-256' }, true, ['sign', 'verify']);
async function flow(algorithm) {
  const requestId = crypto.randomUUID();
  const generated = waitFor('TokenKeyGenerated', requestId);
  const t0 = performance.now();
  await bus.send(GenerateTokenKeyV1, 'bench', { requestId, tokenSerial: serial, algorithm, label: `thk-${requestId}`, subject, sealedNewPin: sealed, sealedCurrentPin: sealed });
  const g = await generated;
  const keygen = performance.now() - t0;
  const req = new Pkcs10CertificateRequest(Buffer.from(g.data.csr, 'base64'));
  const cert = await X509CertificateGenerator.create({ serialNumber: randomBytes(8).toString('hex'), subject: req.subjectName, issuer: 'CN=Bench CA', notBefore: new Date(), notAfter: new Date(Date.now() + 86_400_000), publicKey: await req.publicKey.export(webcrypto), signingKey: ca.privateKey, signingAlgorithm: { name: 'ECDSA', hash: 'SHA-256' } }, webcrypto);
  const installed = waitFor('CertificateInstalled', requestId);
  const t1 = performance.now();
  await bus.send(InstallCertificateV1, 'bench', { requestId, tokenSerial: serial, keyId: g.data.keyId, certificate: Buffer.from(cert.rawData).toString('base64') });
  await installed;
  return { keygen, install: performance.now() - t1 };
}
const ec = [], rsa = [];
for (let i = 0; i < EC; i++) ec.push(await flow('EC-P256'));
for (let i = 0; i < RSA; i++) rsa.push(await flow('RSA-2048'));
const scans = [];
for (let i = 0; i < 20; i++) scans.push(await time(() => agent.reportInventory()));
console.log('token agent (command published → event stored, sequential)');
console.log(`  GenerateTokenKey EC-P256       ${fmt(ec.map((r) => r.keygen))}`);
console.log(`  GenerateTokenKey RSA-2048      ${fmt(rsa.map((r) => r.keygen))}`);
console.log(`  InstallCertificate             ${fmt([...ec, ...rsa].map((r) => r.install))}`);
console.log(`  inventory scan + report        ${fmt(scans)}`);

await agent.close();
await bus.close();
nats.kill('SIGKILL');
await rm(base, { recursive: true, force: true });
