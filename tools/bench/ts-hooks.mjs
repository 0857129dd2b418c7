// Module hooks for the benchmarks: run the TypeScript sources directly
// (swc with decorator metadata, as the tests do), with `@thk/<lib>` mapped to libs/<lib>/src.
// Nothing is built or written to dist/.
import { readFile } from 'node:fs/promises';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, resolve as resolvePath } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { transform } from '@swc/core';

const root = resolvePath(dirname(fileURLToPath(import.meta.url)), '../..');
const swcrc = JSON.parse(readFileSync(resolvePath(root, '.swcrc'), 'utf8'));
delete swcrc.$schema;

export async function resolve(specifier, context, next) {
  const lib = /^@thk\/([a-z0-9-]+)$/.exec(specifier);
  if (lib) return { url: pathToFileURL(resolvePath(root, 'libs', lib[1], 'src/index.ts')).href, shortCircuit: true };
  if (context.parentURL?.endsWith('.ts') && /^\.{1,2}\//.test(specifier) && specifier.endsWith('.js')) {
    const candidate = fileURLToPath(new URL(specifier.replace(/\.js$/, '.ts'), context.parentURL));
    if (existsSync(candidate)) return { url: pathToFileURL(candidate).href, shortCircuit: true };
  }
  return next(specifier, context);
}

export async function load(url, context, next) {
  if (!url.endsWith('.ts')) return next(url, context);
  const filename = fileURLToPath(url);
  const { code } = await transform(await readFile(filename, 'utf8'), { ...swcrc, swcrc: false, filename, sourceMaps: 'inline' });
  return { format: 'module', source: code, shortCircuit: true };
}
