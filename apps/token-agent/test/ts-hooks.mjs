// Module hooks: `@thk/<lib>` → libs/<lib>/src/index.ts, `./x.js` → `./x.ts` next to a .ts importer,
// and .ts compiled with swc using the workspace's .swcrc (decorator metadata on, as Nest needs).
import { existsSync, readFileSync } from 'node:fs';
import { dirname, resolve as resolvePath } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { transform } from '@swc/core';

const root = resolvePath(dirname(fileURLToPath(import.meta.url)), '../../..');
const swcrc = JSON.parse(readFileSync(resolvePath(root, '.swcrc'), 'utf8'));
delete swcrc.$schema;

export async function resolve(specifier, context, next) {
  const lib = /^@thk\/([a-z0-9-]+)$/.exec(specifier);
  if (lib) {
    const file = resolvePath(root, 'libs', lib[1], 'src/index.ts');
    if (existsSync(file)) return { url: pathToFileURL(file).href, shortCircuit: true };
  }
  if (specifier.startsWith('.') && specifier.endsWith('.js') && context.parentURL?.endsWith('.ts')) {
    const ts = new URL(specifier.replace(/\.js$/, '.ts'), context.parentURL);
    if (existsSync(fileURLToPath(ts))) return { url: ts.href, shortCircuit: true };
  }
  return next(specifier, context);
}

export async function load(url, context, next) {
  if (!url.endsWith('.ts')) return next(url, context);
  const filename = fileURLToPath(url);
  const { code } = await transform(readFileSync(filename, 'utf8'), { ...swcrc, swcrc: false, filename, sourceMaps: 'inline' });
  return { format: 'module', source: code, shortCircuit: true };
}
