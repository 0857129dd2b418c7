// Runs the issuance service from its TypeScript sources in a plain Node process, as the restart test
// does (it kills and restarts the service as a child process):
//   node --import ./apps/issuance/test/register-ts.mjs apps/issuance/src/main.ts
import { register } from 'node:module';

register('../../../tools/ts/hooks.mjs', import.meta.url);
