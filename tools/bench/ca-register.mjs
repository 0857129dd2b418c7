// `node --import ./tools/bench/ca-register.mjs …`: runs the CA gateway's TypeScript sources directly (see ca-ts-hooks.mjs).
import { register } from 'node:module';

register('./ca-ts-hooks.mjs', import.meta.url);
