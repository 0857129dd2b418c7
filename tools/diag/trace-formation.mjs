#!/usr/bin/env node
// Where one formation's time goes, message by message: starts the stack as the formation benchmark does
// (tools/bench/isolated-stack.mjs, on /dev/shm, the agent reading the slot list), forms keys one after
// another through HTTP and prints, for the last few, every message on the bus (a
// subscription to `>`; JetStream deliveries show too, under their original subject) and the HTTP/SSE marks,
// each with its time since the POST and since the line before.
//
//   node tools/diag/trace-formation.mjs [--count 10] [--show 3] [--all-subjects] [--cpu] [--profile <dir>] [--keep]
//
// --cpu: prints the CPU time (user + system, from /proc) each process of the stack, and Postgres, spent
// per formation from the fourth on, without a profiler's overhead.
// --profile <dir>: every service samples its CPU (tools/diag/profile-hook.mjs) from the fourth formation
// on; read the result with `node tools/diag/profile-report.mjs <dir>`. --keep: leaves the stack directory
// (its logs/) in place and prints where.
import { register } from 'node:module';
import { randomUUID } from 'node:crypto';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';

register('../ts/hooks.mjs', import.meta.url);
await import('reflect-metadata');

const { values: opt } = parseArgs({ options: { count: { type: 'string', default: '10' }, show: { type: 'string', default: '3' }, 'all-subjects': { type: 'boolean', default: false }, cpu: { type: 'boolean', default: false }, profile: { type: 'string' }, keep: { type: 'boolean', default: false } } });
const COUNT = Number(opt.count);
const WARM = 3;
const profileDir = opt.profile ? resolve(opt.profile) : undefined;
if (profileDir) {
  mkdirSync(profileDir, { recursive: true });
  for (const f of ['start', 'stop']) rmSync(join(profileDir, f), { force: true });
  process.env.THK_PROFILE_DIR = profileDir;
  process.env.NODE_OPTIONS = `${process.env.NODE_OPTIONS ?? ''} --import=${new URL('./profile-hook.mjs', import.meta.url).href}`.trim();
}
const { startIsolatedStack, demoUser } = await import('../bench/isolated-stack.mjs');
const { sealTo, followEvents } = await import('../stack/demo-flow.mjs');
const { connect } = await import('@nats-io/transport-node');

/** The critical path's messages, in order (the first of each kind in a formation's trace). */
const HOPS = [
  ['authorize', /^accounts\.rpc\.authorize-temporary-key/], ['generate cmd', /\.cmd\.generate-token-key/],
  ['key generated', /\.evt\.token-key-generated/], ['issue cmd', /^ca\.cmd\.issue-certificate/],
  ['cert issued', /^ca\.evt\.certificate-issued/], ['install cmd', /\.cmd\.install-certificate/],
  ['installed', /\.evt\.certificate-installed/], ['formed', /^issuance\.evt\.temporary-hardware-key-formed/],
  ['SSE completed', /^« SSE completed »$/],
];

const shm = mkdtempSync('/dev/shm/thk-trace-');
let running;
let nc;
try {
  running = await startIsolatedStack(shm, { agentEnv: { PKCS11_RESCAN: 'slot-list' }, dbPrefix: 'trace' });
  nc = await connect({ servers: running.natsUrl });
  let trace = null;
  const quiet = /^(\$JS\.ACK|\$JS\.API\.CONSUMER\.MSG\.NEXT|_INBOX)/;
  const sub = nc.subscribe('>');
  void (async () => { for await (const m of sub) if (trace && (opt['all-subjects'] || !quiet.test(m.subject))) trace.push([performance.now(), m.subject, m.data.length]); })();

  const base = running.stack.gatewayUrl;
  const { accessToken, auth, tokens, cloud } = await demoUser(base);
  const token = tokens[0];
  let pin = null;
  const totals = [];
  const hopTimes = [];
  let cpuBefore;
  for (let i = 0; i < COUNT; i++) {
    if (opt.cpu && i === WARM) cpuBefore = cpuTimes(running.stack.children);
    if (profileDir && i === WARM) writeFileSync(join(profileDir, 'start'), String(process.hrtime.bigint() / 1000n));
    const newPin = `Trace-Pin-${i + 1}`;
    const body = { validity: 'P1D', tokenId: token.tokenId, cloudKeyPassword: 'Demo-Cloud-Key-1', newKeyPassword: await sealTo(token.agentKey, newPin), ...(pin ? { currentTokenPassword: await sealTo(token.agentKey, pin) } : {}) };
    trace = [];
    const t0 = performance.now();
    const res = await fetch(`${base}/v1/keys/${cloud.id}/temporary-hardware-keys`, { method: 'POST', headers: { ...auth, 'content-type': 'application/json', 'idempotency-key': randomUUID() }, body: JSON.stringify(body) });
    const accepted = await res.json();
    if (res.status !== 202) throw new Error(`POST → ${res.status} ${JSON.stringify(accepted)}`);
    trace.push([performance.now(), '« HTTP 202 »', 0]);
    await followEvents(base, `/v1/hardware-key-requests/${accepted.requestId}/events`, accessToken, (ev) => { trace.push([performance.now(), `« SSE ${ev.json?.status} »`, 0]); }, 120_000);
    const ms = performance.now() - t0;
    totals.push(ms);
    if (i >= WARM) hopTimes.push(HOPS.map(([, re]) => trace.find(([, subject]) => re.test(subject))?.[0] ?? NaN));
    pin = newPin;
    if (i >= COUNT - Number(opt.show)) {
      console.log(`\n─── formation ${i + 1}: ${ms.toFixed(1)} ms   (ms since the POST · since the line before · subject · bytes)`);
      let prev = t0;
      for (const [t, subject, bytes] of trace) { console.log(`${(t - t0).toFixed(1).padStart(7)} ${`+${(t - prev).toFixed(1)}`.padStart(7)}  ${subject}${bytes ? ` ${bytes}` : ''}`); prev = t; }
    }
    trace = null;
  }
  if (cpuBefore) {
    const after = cpuTimes(running.stack.children);
    const n = COUNT - WARM;
    const rows = [...after].map(([name, ms]) => [name, (ms - (cpuBefore.get(name) ?? 0)) / n]).sort((a, b) => b[1] - a[1]);
    console.log(`\nCPU per formation (user + system, ${n} formations; /proc ticks of 10 ms, so ±${(10 / n).toFixed(1)} ms):`);
    for (const [name, ms] of rows) console.log(`  ${name.padEnd(14)} ${ms.toFixed(1).padStart(6)} ms`);
    console.log(`  ${'total'.padEnd(14)} ${rows.reduce((a, [, ms]) => a + ms, 0).toFixed(1).padStart(6)} ms`);
  }
  if (hopTimes.length) {
    console.log(`\nmedian of each hop over formations ${WARM + 1}…${COUNT} (the first message of each kind, from the one before):`);
    for (let h = 1; h < HOPS.length; h++) {
      const d = hopTimes.map((t) => t[h] - t[h - 1]).filter(Number.isFinite).sort((a, b) => a - b);
      if (d.length) console.log(`  ${HOPS[h - 1][0].padStart(16)} → ${HOPS[h][0].padEnd(16)} ${d[Math.floor(d.length / 2)].toFixed(1).padStart(6)} ms   (p90 ${d[Math.floor(d.length * 0.9)].toFixed(1)})`);
    }
  }
  console.log(`\nall ${COUNT}, sorted: ${totals.sort((a, b) => a - b).map((x) => x.toFixed(0)).join(' ')} ms`);
  if (profileDir) {
    writeFileSync(join(profileDir, 'stop'), '');
    await new Promise((r) => setTimeout(r, 1_500));
    console.log(`profiles in ${profileDir}: node tools/diag/profile-report.mjs ${profileDir}`);
  }
} finally {
  await nc?.close();
  await running?.stop();
  if (opt.keep) console.log(`kept ${shm} (logs in stack/logs)`); else rmSync(shm, { recursive: true, force: true });
}

/** CPU ms (utime + stime) of the stack's processes by name, of this process, and of every postgres and every nats-server process together (the shared server, if one runs, counts too). */
function cpuTimes(children) {
  const tick = 10; // USER_HZ is 100 on Linux
  const of = (pid) => {
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      return (Number(f[11]) + Number(f[12])) * tick;
    } catch { return 0; }
  };
  const out = new Map();
  for (const c of children) if (c.child?.pid && !c.exited && c.name !== 'build') out.set(c.name, of(c.child.pid));
  out.set('bench client', of(process.pid));
  const byName = { postgres: 0, 'nats-server': 0 };
  for (const pid of readdirSync('/proc').filter((d) => /^\d+$/.test(d))) {
    try { const comm = readFileSync(`/proc/${pid}/comm`, 'utf8').trim(); if (comm in byName) byName[comm] += of(pid); } catch { /* gone */ }
  }
  for (const [name, ms] of Object.entries(byName)) out.set(name, ms);
  return out;
}
