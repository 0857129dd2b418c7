import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { createTestDatabase, freePort, startTestNats, type TestDatabase, type TestNats } from '@thk/testing';
// The stack launcher is plain ESM JavaScript shared with `npm start` (a script, not a project).
/* eslint-disable @nx/enforce-module-boundaries */
// @ts-expect-error -- no type declarations for the .mjs launcher
import { startStack } from '../../../tools/stack/stack.mjs';
// @ts-expect-error -- no type declarations for the .mjs helper
import { followEvents, sealTo } from '../../../tools/stack/demo-flow.mjs';
/* eslint-enable @nx/enforce-module-boundaries */

export const run = promisify(execFile);

export interface Stack {
  gatewayUrl: string;
  natsUrl: string;
  userId: string;
  token: { conf: string; modulePath: string; soPin: string; secretsFile: string };
  children: Array<{ name: string; child: import('node:child_process').ChildProcess }>;
  stop(): Promise<void>;
  /** Starts a service of the stack again (e.g. the token agent after a test killed it). */
  restart(name: string): Promise<unknown>;
}

export interface E2eEnvironment {
  stack: Stack;
  dir: string;
  /** Each service's own database, for checks that the HTTP API cannot show. */
  databases: { accounts: string; issuance: string; ca: string };
  close(): Promise<void>;
}

/** The whole system for one spec file: fresh databases, a private NATS, a temporary stack dir. */
export async function startE2eStack(options: { issuanceEnv?: Record<string, string>; gatewayEnv?: Record<string, string> } = {}): Promise<E2eEnvironment> {
  const dir = await mkdtemp(join(tmpdir(), 'thk-e2e-'));
  const nats: TestNats = await startTestNats();
  const dbs: TestDatabase[] = await Promise.all(['accounts', 'issuance', 'ca'].map((n) => createTestDatabase(`e2e_${n}`)));
  const [accounts, issuance, ca] = dbs as [TestDatabase, TestDatabase, TestDatabase];
  const logs: string[] = [];
  let stack: Stack;
  try {
    stack = await startStack({
      stackDir: dir, natsUrl: nats.url, databaseUrl: accounts.url.replace(/\/[^/]+$/, '/postgres'),
      databases: { accounts: accounts.url, issuance: issuance.url, ca: ca.url },
      ports: { gateway: await freePort(), accounts: await freePort(), issuance: await freePort(), ca: await freePort() },
      quiet: true, skipSetup: true, issuanceEnv: options.issuanceEnv, gatewayEnv: options.gatewayEnv,
      log: (line: string) => logs.push(line),
    }) as Stack;
  } catch (error) {
    await writeFile(join(dir, 'stack-start.log'), logs.join('\n'));
    throw new Error(`${(error as Error).message}\nstack log: ${join(dir, 'stack-start.log')}; service logs: ${join(dir, 'logs')}`);
  }
  return {
    stack, dir,
    databases: { accounts: accounts.url, issuance: issuance.url, ca: ca.url },
    async close() {
      await stack.stop();
      await nats.stop();
      await Promise.all(dbs.map((d) => d.drop()));
      if (!process.env['THK_KEEP_E2E']) await rm(dir, { recursive: true, force: true });
    },
  };
}

export interface HttpResult<T = any> { status: number; body: T; headers: Headers }

export async function http<T = any>(base: string, path: string, init: { token?: string; method?: string; body?: unknown; headers?: Record<string, string>; raw?: boolean } = {}): Promise<HttpResult<T>> {
  const res = await fetch(`${base}${path}`, {
    method: init.method ?? 'GET',
    headers: {
      ...(init.token ? { authorization: `Bearer ${init.token}` } : {}),
      ...(init.body !== undefined ? { 'content-type': 'application/json' } : {}),
      ...init.headers,
    },
    body: init.body === undefined ? undefined : typeof init.body === 'string' ? init.body : JSON.stringify(init.body),
  });
  const type = res.headers.get('content-type') ?? '';
  const body = init.raw ? Buffer.from(await res.arrayBuffer()) : type.includes('json') ? await res.json() : await res.text();
  return { status: res.status, body: body as T, headers: res.headers };
}

export async function devLogin(base: string, rnokpp: string): Promise<string> {
  const res = await http<{ accessToken: string }>(base, '/v1/dev/session', { method: 'POST', body: { rnokpp } });
  if (res.status !== 200) throw new Error(`dev session: ${res.status} ${JSON.stringify(res.body)}`);
  return res.body.accessToken;
}

export { followEvents, sealTo };

/** Objects on the dev token (needs the user PIN once it is set). */
export async function tokenObjects(stack: Stack, pin: string | null): Promise<string> {
  const args = ['--module', stack.token.modulePath, '-O', ...(pin ? ['--login', '--pin', pin] : [])];
  const { stdout } = await run('pkcs11-tool', args, { env: { ...process.env, SOFTHSM2_CONF: stack.token.conf } });
  return stdout;
}

export async function eventually<T>(probe: () => Promise<T>, ok: (v: T) => boolean, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last = await probe();
  while (!ok(last)) {
    if (Date.now() > deadline) throw new Error(`condition not met in ${timeoutMs} ms; last: ${JSON.stringify(last)?.slice(0, 500)}`);
    await new Promise((r) => setTimeout(r, 200));
    last = await probe();
  }
  return last;
}
