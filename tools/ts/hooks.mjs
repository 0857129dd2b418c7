// Module hooks that run the workspace's TypeScript sources in plain Node (child-process tests,
// benchmarks, `node --import ./tools/ts/register.mjs some.ts`): `@thk/<lib>` → libs/<lib>/src/index.ts,
// `./x.js` → `./x.ts` next to a .ts importer, .ts compiled with swc using .swcrc (decorator metadata on).
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve as resolvePath } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { transform } from '@swc/core';

const root = resolvePath(dirname(fileURLToPath(import.meta.url)), '../..');
const swcrc = JSON.parse(readFileSync(resolvePath(root, '.swcrc'), 'utf8'));
delete swcrc.$schema;
// Compiled output is cached by content (a child process starts in ~1 s instead of ~3 s).
const cacheDir = join(tmpdir(), 'thk-ts-hooks-cache');
mkdirSync(cacheDir, { recursive: true });
const swcrcHash = createHash('sha1').update(JSON.stringify(swcrc)).digest('hex');

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
  const source = readFileSync(filename, 'utf8');
  const cached = join(cacheDir, `${createHash('sha1').update(swcrcHash).update(filename).update(source).digest('hex')}.js`);
  if (existsSync(cached)) return { format: 'module', source: readFileSync(cached, 'utf8'), shortCircuit: true };
  const { code } = await transform(source, { ...swcrc, swcrc: false, filename, sourceMaps: 'inline' });
  const tmp = `${cached}.${process.pid}.tmp`;
  writeFileSync(tmp, code);
  renameSync(tmp, cached);
  return { format: 'module', source: code, shortCircuit: true };
}
