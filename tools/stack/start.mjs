#!/usr/bin/env node
// `npm start`: the whole system on this machine, in the foreground until Ctrl-C.
// `npm run demo`: the same, then the seed's flow through the HTTP API, then exit.
//
// Only node built-ins and tools/setup/ensure.mjs (itself built-ins only) are imported statically:
// on a fresh checkout nothing is installed yet, so the npm packages are installed first and the
// rest of the stack (which needs them: jose in demo-flow.mjs, NATS, embedded Postgres) is imported after.
import { ensureNodeModules } from '../setup/ensure.mjs';

const demo = process.argv.includes('--demo');
// Stopping works at any moment: the startup is aborted (startStack stops whatever it has started
// so far and rejects), or, once up, the stack is stopped.
const startup = new AbortController();
let stack;
let starting;
let stopping = false;
const shutdown = async (code) => {
  if (stopping) return;
  stopping = true;
  console.log('\nstopping everything this stack started…');
  startup.abort();
  if (stack) await stack.stop();
  else await starting?.catch(() => undefined);
  process.exit(code);
};
process.on('SIGINT', () => void shutdown(0));
process.on('SIGTERM', () => void shutdown(0));

try {
  ensureNodeModules();
  const { startStack, DEMO_USER } = await import('./stack.mjs');
  starting = startStack({ quiet: demo, signal: startup.signal });
  stack = await starting;
  const modulePath = stack.token.modulePath;
  console.log(`
\x1b[1;32mThe stack is up.\x1b[0m
  Cabinet and API   ${stack.gatewayUrl}/            (OpenAPI: ${stack.gatewayUrl}/v1/openapi.json)
  Demo login        ${DEMO_USER.fullName}, РНОКПП ${DEMO_USER.rnokpp}; cloud key password ${DEMO_USER.cloudKeyPassword}
                    curl -s -X POST ${stack.gatewayUrl}/v1/dev/session -H 'content-type: application/json' -d '{"rnokpp":"${DEMO_USER.rnokpp}"}'
  Dev token         SOFTHSM2_CONF=${stack.token.conf} pkcs11-tool --module ${modulePath} -L
                    (objects: add -O --login --pin <the new key password>)
  CA for relying parties  ${stack.gatewayUrl}/pki/ca.crt and ${stack.gatewayUrl}/pki/crl (no authentication)
  State and logs    ${stack.stackDir}  (delete it to start afresh)
`);
  if (demo) {
    const { runDemo } = await import('./demo-flow.mjs');
    await runDemo(stack);
    console.log('\n\x1b[1;32mDemo finished: a temporary hardware key was formed on the dev token.\x1b[0m');
    await shutdown(0);
  } else {
    console.log('Press Ctrl-C to stop.');
  }
} catch (error) {
  if (!stopping) {
    console.error(`\x1b[31m${error.message}\x1b[0m`);
    console.error(`Logs are in ${stack?.stackDir ?? process.env.STACK_DIR ?? '.stack'}/logs.`);
  }
  await shutdown(1);
}
