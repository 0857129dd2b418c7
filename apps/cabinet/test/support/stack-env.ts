// The local stack (tools/stack/stack.mjs) for the browser tests, isolated from anything else on the
// machine: its own NATS server, its own three databases, a temporary stack folder (fresh SoftHSM
// token, CA state, agent journal) and a free gateway port. Nothing depends on a stack left running.
import { spawnSync } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { createTestDatabase, freePort, startTestNats, type TestDatabase, type TestNats } from '@thk/testing';
import { repoRoot } from './paths.js';

interface StackChild { name: string; exited: boolean; child: { kill(signal?: string): boolean; once(event: 'exit', cb: () => void): void; exitCode: number | null } }

export interface StackHandle {
  gatewayUrl: string;
  natsUrl: string;
  stackDir: string;
  userId: string;
  token: { conf: string; modulePath: string; tokensDir: string; soPin: string; secretsFile: string };
  children: StackChild[];
  stop(): Promise<void>;
}

interface StackModule {
  startStack(options: {
    stackDir: string; natsUrl: string; databases: Record<'accounts' | 'issuance' | 'ca', string>;
    ports: { gateway: number }; quiet: boolean; skipSetup?: boolean; log: (line: string) => void; gatewayEnv?: Record<string, string>;
  }): Promise<StackHandle>;
  DEMO_USER: { fullName: string; rnokpp: string; cloudKeyPassword: string };
}

export interface CabinetStack {
  stack: StackHandle;
  gatewayUrl: string;
  demoUser: StackModule['DEMO_USER'];
  log: string[];
  /** Stops the agent's process: its tokens go offline. */
  stopAgent(): Promise<void>;
  close(): Promise<void>;
}

export type StackStart = { ok: true; env: CabinetStack } | { ok: false; reason: string; log: string[] };

// eslint-disable-next-line no-control-regex
const plain = (s: string) => s.replace(/\x1b\[[0-9;]*m/g, '');

export async function startCabinetStack(): Promise<StackStart> {
  const log: string[] = [];
  const cleanups: (() => Promise<unknown>)[] = [];
  const cleanup = async () => { for (const fn of cleanups.reverse()) await fn().catch(() => undefined); };
  try {
    const stackDir = await mkdtemp(join(tmpdir(), 'thk-cabinet-e2e-'));
    cleanups.push(() => rm(stackDir, { recursive: true, force: true }));
    const nats: TestNats = await startTestNats();
    cleanups.push(() => nats.stop());
    const dbs: Record<'accounts' | 'issuance' | 'ca', TestDatabase> = {
      accounts: await createTestDatabase('cabinet_accounts'),
      issuance: await createTestDatabase('cabinet_issuance'),
      ca: await createTestDatabase('cabinet_ca'),
    };
    for (const db of Object.values(dbs)) cleanups.push(() => db.drop());
    const mod = (await import(pathToFileURL(resolve(repoRoot, 'tools/stack/stack.mjs')).href)) as StackModule;
    const gateway = await freePort();
    const stack = await mod.startStack({
      stackDir,
      natsUrl: nats.url,
      databases: { accounts: dbs.accounts.url, issuance: dbs.issuance.url, ca: dbs.ca.url },
      ports: { gateway },
      quiet: true,
      // The services are built by the test target's dependsOn (as for tests/e2e). Building here would
      // rewrite their dist/ while another suite's stack (tests/e2e, run in parallel) is starting from it.
      skipSetup: true,
      log: (line) => log.push(plain(line)),
      // The tests send more password calls in a minute than the default limits allow one person.
      gatewayEnv: { RATE_LIMIT_PASSWORD_PER_KEY: '40/40', RATE_LIMIT_PASSWORD_PER_USER: '40/40' },
    });
    cleanups.push(() => stack.stop());
    return {
      ok: true,
      env: {
        stack,
        gatewayUrl: stack.gatewayUrl,
        demoUser: mod.DEMO_USER,
        log,
        async stopAgent() {
          const agent = stack.children.find((c) => c.name === 'token-agent');
          if (!agent || agent.exited || agent.child.exitCode !== null) return;
          const exited = new Promise<void>((r) => agent.child.once('exit', () => r()));
          agent.child.kill();
          await exited;
        },
        close: cleanup,
      },
    };
  } catch (error) {
    // The services' own logs say why; the stack folder goes away with the cleanup.
    const match = /see (\/\S+\.log)/.exec((error as Error).message);
    if (match) {
      const tail = (await readFile(match[1]!, 'utf8').catch(() => '')).trim().split('\n').slice(-12);
      log.push(`--- ${match[1]} (last lines) ---`, ...tail.map((l) => l.slice(0, 400)));
    }
    await cleanup();
    return { ok: false, reason: (error as Error).message, log };
  }
}

/** `nx build cabinet` (tsc + vite): the page the gateway serves from apps/cabinet/dist. */
export function buildCabinetPage(): { ok: boolean; output: string } {
  const r = spawnSync(resolve(repoRoot, 'node_modules/.bin/nx'), ['build', 'cabinet', '--outputStyle=static'], {
    cwd: repoRoot, encoding: 'utf8', env: { ...process.env, NX_DAEMON: 'false', NX_NO_CLOUD: 'true', NX_TUI: 'false' },
  });
  return { ok: r.status === 0, output: `${r.stdout ?? ''}${r.stderr ?? ''}`.slice(-4_000) };
}
