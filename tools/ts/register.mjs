// `node --import ./tools/ts/register.mjs path/to/main.ts`: runs TypeScript sources directly (see hooks.mjs).
import { register } from 'node:module';

register('./hooks.mjs', import.meta.url);
