// Installs and starts what the project needs on this kind of machine (Debian, Node 20+), and says
// plainly what it could not do. Used by `npm test`, `npm start` and `npm run demo`; plain Node, no deps.
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { connect } from 'node:net';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const say = (msg) => console.log(`\x1b[36m[setup]\x1b[0m ${msg}`);
const warn = (msg) => console.log(`\x1b[33m[setup]\x1b[0m ${msg}`);

function has(cmd) {
  return spawnSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' }).status === 0;
}

function isRoot() {
  return typeof process.getuid === 'function' && process.getuid() === 0;
}

/** `npm ci` when node_modules is missing or older than the lockfile. */
export function ensureNodeModules() {
  const lock = resolve(root, 'package-lock.json');
  const marker = resolve(root, 'node_modules/.package-lock.json');
  if (existsSync(marker) && statSync(marker).mtimeMs >= statSync(lock).mtimeMs) return;
  say('installing npm packages (npm ci)…');
  execFileSync('npm', ['ci', '--no-audit', '--no-fund'], { cwd: root, stdio: 'inherit' });
}

const APT = {
  'softhsm2-util': 'softhsm2',
  'pkcs11-tool': 'opensc',
  'nats-server': 'nats-server',
  openssl: 'openssl',
};

/** Installs missing system packages with apt when allowed (root); returns what is still missing. */
export function ensureSystemPackages(extra = {}) {
  const wanted = { ...APT, ...extra };
  const missing = Object.entries(wanted).filter(([cmd]) => !has(cmd) && !(cmd === 'nats-server' && existsSync('/usr/sbin/nats-server')));
  if (missing.length === 0) return [];
  const pkgs = [...new Set(missing.map(([, pkg]) => pkg))];
  if (!isRoot() || !has('apt-get')) {
    warn(`missing ${pkgs.join(', ')}; install them with: sudo apt-get install -y ${pkgs.join(' ')}`);
    return pkgs;
  }
  say(`installing ${pkgs.join(', ')} with apt-get…`);
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  spawnSync('apt-get', ['update', '-qq'], { stdio: 'inherit', env });
  const r = spawnSync('apt-get', ['install', '-y', '-qq', ...pkgs], { stdio: 'inherit', env });
  if (r.status !== 0) warn(`apt-get install ${pkgs.join(' ')} failed (exit ${r.status})`);
  return Object.entries(wanted).filter(([cmd]) => !has(cmd) && !(cmd === 'nats-server' && existsSync('/usr/sbin/nats-server'))).map(([, p]) => p);
}

export function portOpen(host, port, timeoutMs = 500) {
  return new Promise((resolvePromise) => {
    const s = connect({ host, port });
    const done = (ok) => { s.destroy(); resolvePromise(ok); };
    s.setTimeout(timeoutMs, () => done(false));
    s.once('connect', () => done(true));
    s.once('error', () => done(false));
  });
}

async function waitPort(host, port, ms) {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    if (await portOpen(host, port)) return true;
    await new Promise((r) => setTimeout(r, 200));
  }
  return false;
}

/** Starts the machine's PostgreSQL cluster when nothing answers on the configured server. */
export async function ensurePostgres() {
  const url = new URL(process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres');
  const host = url.hostname || '127.0.0.1';
  const port = Number(url.port || 5432);
  if (await portOpen(host, port)) return true;
  if (existsSync('/etc/postgresql') && has('pg_ctlcluster')) {
    for (const version of readdirSync('/etc/postgresql')) {
      say(`starting PostgreSQL ${version} (pg_ctlcluster)…`);
      spawnSync('pg_ctlcluster', ['--skip-systemctl-redirect', version, 'main', 'start'], { stdio: 'inherit' });
    }
    if (await waitPort(host, port, 15_000)) return true;
  }
  warn(`no PostgreSQL answers at ${host}:${port}; set DATABASE_URL to a reachable server`);
  return false;
}

/** Starts Debian's nats-server with JetStream on 4222 when nothing answers there. */
export async function ensureNats() {
  const url = new URL((process.env.NATS_URL ?? 'nats://127.0.0.1:4222').split(',')[0]);
  const host = url.hostname || '127.0.0.1';
  const port = Number(url.port || 4222);
  if (await portOpen(host, port)) return true;
  const bin = existsSync('/usr/sbin/nats-server') ? '/usr/sbin/nats-server' : 'nats-server';
  if (has('start-stop-daemon') && isRoot()) {
    say('starting nats-server with JetStream…');
    spawnSync('mkdir', ['-p', '/var/lib/nats-server']);
    spawnSync('start-stop-daemon', ['--start', '--oknodo', '--background', '--exec', bin, '--', '-a', '127.0.0.1', '-p', String(port), '-js', '-sd', '/var/lib/nats-server', '-l', '/var/log/nats-server.log'], { stdio: 'inherit' });
    if (await waitPort(host, port, 10_000)) return true;
  }
  warn(`no NATS answers at ${host}:${port}`);
  return false;
}
