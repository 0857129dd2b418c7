// Runs the agent from its TypeScript sources in a plain Node process (the crash-recovery and CLI
// tests start it as a child process; it also serves `node --import … src/main.ts` in development):
//   node --import ./apps/token-agent/test/register-ts.mjs apps/token-agent/src/main.ts run
import { register } from 'node:module';

register('../../../tools/ts/hooks.mjs', import.meta.url);
