#!/usr/bin/env node
// `npm test`: installs what the tests need, type-checks, lints (module boundaries included) and runs
// every project's tests through Nx, then prints one closing line with the counts.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { ensureNats, ensureNodeModules, ensurePostgres, ensureSystemPackages, root } from '../setup/ensure.mjs';

const args = process.argv.slice(2);
const started = Date.now();
ensureNodeModules();
ensureSystemPackages();
await ensurePostgres();
await ensureNats();

const env = { ...process.env, NX_DAEMON: 'false', NX_NO_CLOUD: 'true', NX_TUI: 'false', FORCE_COLOR: process.env.CI ? '0' : '1' };
const resultsDir = join(root, 'tmp/test-results');
rmSync(resultsDir, { recursive: true, force: true });
mkdirSync(resultsDir, { recursive: true });
env.THK_TEST_RESULTS_DIR = resultsDir;

function step(title, cmd, cmdArgs) {
  console.log(`\n\x1b[1m▶ ${title}\x1b[0m`);
  const t = Date.now();
  const r = spawnSync(cmd, cmdArgs, { cwd: root, env, stdio: 'inherit' });
  console.log(`  ${r.status === 0 ? '✓' : '✗'} ${title} (${((Date.now() - t) / 1000).toFixed(1)} s)`);
  return r.status === 0;
}

const npx = join(root, 'node_modules/.bin');
let ok = true;
ok = step('type-check (tsc --noEmit)', join(npx, 'tsc'), ['-p', 'tsconfig.json', '--noEmit']) && ok;
ok = step('lint (eslint, module boundaries)', join(npx, 'nx'), ['run-many', '-t', 'lint', '--outputStyle=stream']) && ok;
const projects = args.length ? ['--projects', args.join(',')] : [];
ok = step('tests (every project)', join(npx, 'nx'), ['run-many', '-t', 'test', '--outputStyle=stream', '--parallel=2', '--skip-nx-cache', ...projects]) && ok;

let passed = 0, failed = 0, skipped = 0;
const failures = [];
const files = existsSync(resultsDir) ? readdirSync(resultsDir) : [];
for (const f of files) {
  const r = JSON.parse(readFileSync(join(resultsDir, f), 'utf8'));
  passed += r.passed; failed += r.failed; skipped += r.skipped;
  if (r.suitesFailed && !r.failed) failed += r.suitesFailed;
  for (const x of r.failures ?? []) failures.push({ project: f.replace(/\.json$/, ''), ...x });
}
// Last, where a CI log's tail shows them: which tests failed, and how.
for (const x of failures) {
  console.log(`\n✗ ${x.project} ${x.file}\n  ${x.test}\n${x.message.replace(/^/gm, '    ')}`);
}
if (!ok && failed === 0) failed = 1; // a failed type-check, lint or crashed runner counts
console.log(`\n${files.length} projects ran tests in ${((Date.now() - started) / 1000).toFixed(0)} s`);
console.log(`Tests: ${passed} passed, ${failed} failed, ${skipped} skipped`);
process.exit(ok && failed === 0 ? 0 : 1);
