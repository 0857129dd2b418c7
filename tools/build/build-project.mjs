#!/usr/bin/env node
// Compiles one project's src/ to dist/ with swc (decorator metadata on, ESM out, specs left out).
// Type checking is done once for the whole workspace by `npm run typecheck` (tsc --noEmit).
import { transformFile } from '@swc/core';
import { mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const projectDir = resolve(process.argv[2] ?? '.');
const src = join(projectDir, 'src');
const out = join(projectDir, 'dist');
const swcrc = JSON.parse(await readFile(join(root, '.swcrc'), 'utf8'));
delete swcrc.$schema;

async function* walk(dir) {
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const p = join(dir, entry.name);
    if (entry.isDirectory()) yield* walk(p);
    else yield p;
  }
}

await rm(out, { recursive: true, force: true });
let count = 0;
for await (const file of walk(src)) {
  const rel = relative(src, file);
  if (/\.(unit|int|e2e)?\.?spec\.ts$/.test(rel) || rel.includes('__fixtures__') && !rel.endsWith('.json') || /\.d\.ts$/.test(rel)) continue;
  const target = join(out, rel);
  await mkdir(dirname(target), { recursive: true });
  if (rel.endsWith('.ts')) {
    const { code, map } = await transformFile(file, { ...swcrc, swcrc: false, filename: file, sourceFileName: relative(dirname(target), file) });
    const js = target.replace(/\.ts$/, '.js');
    await writeFile(js, `${code}\n//# sourceMappingURL=${js.split('/').pop()}.map\n`);
    if (map) await writeFile(`${js}.map`, map);
    count++;
  } else if (/\.(json|sql|html|css)$/.test(rel)) {
    await writeFile(target, await readFile(file));
  }
}
console.log(`built ${relative(root, projectDir)}: ${count} files → ${relative(root, out)}`);
