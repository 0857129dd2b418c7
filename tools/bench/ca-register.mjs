// `node --import ./tools/bench/ca-register.mjs …`: runs the CA gateway's TypeScript sources directly (see tools/ts/hooks.mjs).
import { register } from 'node:module';

register('../ts/hooks.mjs', import.meta.url);
