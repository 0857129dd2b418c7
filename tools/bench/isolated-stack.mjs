// The local stack as the benchmarks and tools/diag run it: a private nats-server, fresh databases on the local
// PostgreSQL (dropped by `stop`), the stack directory where the caller says (tmpfs), services at warn level and
// password rate limits out of the way; and the demo user's session, tokens and cloud key through the HTTP API.
// Import after `register('../ts/hooks.mjs', …)` (it loads @thk/testing).
import { join } from 'node:path';

const { startStack } = await import('../stack/stack.mjs');
const { createTestDatabase, startTestNats, freePort } = await import('@thk/testing');

/** Starts it all; on a failure part-way, stops what had started. `agentEnv` goes to the demo agent. */
export async function startIsolatedStack(dir, { agentEnv = {}, dbPrefix = 'bench' } = {}) {
  const nats = await startTestNats();
  const dbs = [];
  let stack;
  let ports;
  const stop = async () => {
    await stack?.stop();
    await nats.stop();
    await Promise.all(dbs.map((d) => d.drop()));
  };
  try {
    dbs.push(...await Promise.all(['accounts', 'issuance', 'ca'].map((n) => createTestDatabase(`${dbPrefix}_${n}`))));
    ports = { gateway: await freePort(), accounts: await freePort(), issuance: await freePort(), ca: await freePort() };
    stack = await startStack({
      stackDir: join(dir, 'stack'), natsUrl: nats.url, databaseUrl: dbs[0].url.replace(/\/[^/]+$/, '/postgres'),
      databases: { accounts: dbs[0].url, issuance: dbs[1].url, ca: dbs[2].url },
      ports,
      quiet: true, log: () => undefined,
      gatewayEnv: { RATE_LIMIT_PASSWORD_PER_USER: '100000/100000', RATE_LIMIT_PASSWORD_PER_KEY: '100000/100000', LOG_LEVEL: 'warn' },
      issuanceEnv: { LOG_LEVEL: 'warn' }, agentEnv: { LOG_LEVEL: 'warn', ...agentEnv },
    });
  } catch (error) {
    await stop();
    throw error;
  }
  // Each service's health and metrics (`/metrics`) on 127.0.0.1.
  const serviceUrls = Object.fromEntries(Object.entries(ports).map(([name, port]) => [name, `http://127.0.0.1:${port}`]));
  return { stack, natsUrl: nats.url, serviceUrls, stop };
}

/** The demo user's dev session, once `tokenCount` of its tokens are online, and its cloud key. */
export async function demoUser(gatewayUrl, tokenCount = 1) {
  const session = await (await fetch(`${gatewayUrl}/v1/dev/session`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ rnokpp: '1111111111' }) })).json();
  const auth = { authorization: `Bearer ${session.accessToken}` };
  let tokens = [];
  for (let i = 0; i < 100 && tokens.length < tokenCount; i++) {
    tokens = (await (await fetch(`${gatewayUrl}/v1/tokens`, { headers: auth })).json()).items;
    if (tokens.length < tokenCount) await new Promise((r) => setTimeout(r, 300));
  }
  if (tokens.length < tokenCount) throw new Error(`only ${tokens.length} of ${tokenCount} tokens came online`);
  const cloud = (await (await fetch(`${gatewayUrl}/v1/keys`, { headers: auth })).json()).items.find((k) => k.kind === 'cloud');
  return { accessToken: session.accessToken, auth, tokens, cloud };
}
