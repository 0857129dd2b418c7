#!/usr/bin/env node
// Sums the CPU profiles that tools/diag/trace-formation.mjs --profile wrote, from its `start` mark on.
//
//   node tools/diag/profile-report.mjs <dir> [--service issuance] [--top 25] [--inclusive [--match <regexp>]] [--callers <function>]
//
// Default: per service, busy time, by package, and the functions with the most self time. --inclusive: the
// functions (matching --match, default the repo's own code) with the most time including their callees.
// --callers: the call chains that lead to a function's self time.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';

const { values: opt, positionals } = parseArgs({ allowPositionals: true, options: { service: { type: 'string' }, top: { type: 'string', default: '25' }, inclusive: { type: 'boolean', default: false }, match: { type: 'string', default: '^\\S+ (apps|libs)/' }, callers: { type: 'string' } } });
const dir = positionals[0];
if (!dir) { console.error('usage: profile-report.mjs <dir> [--service s] [--top n] [--inclusive [--match re]] [--callers fn]'); process.exit(2); }
const startUs = Number(readFileSync(join(dir, 'start'), 'utf8'));
const top = Number(opt.top);
const place = (cf) => `${cf.functionName || '(anon)'} ${cf.url.replace(/.*node_modules\//, 'nm:').replace(/.*\/(apps|libs)\//, '$1/')}:${cf.lineNumber}`;

for (const file of readdirSync(dir).filter((f) => f.endsWith('.cpuprofile') && (!opt.service || f.startsWith(opt.service)))) {
  const profile = JSON.parse(readFileSync(join(dir, file), 'utf8'));
  const node = new Map(profile.nodes.map((n) => [n.id, n]));
  const parent = new Map();
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const self = new Map();
  let at = profile.startTime;
  for (let i = 0; i < profile.samples.length; i++) {
    at += profile.timeDeltas[i] ?? 0;
    if (at >= startUs) self.set(profile.samples[i], (self.get(profile.samples[i]) ?? 0) + (profile.timeDeltas[i + 1] ?? 0));
  }
  const busy = [...self].filter(([id]) => node.get(id).callFrame.functionName !== '(idle)');
  const total = busy.reduce((s, [, t]) => s + t, 0);
  const sum = new Map();
  const add = (k, t) => sum.set(k, (sum.get(k) ?? 0) + t);
  if (opt.callers) {
    for (const [id, t] of busy) {
      if (node.get(id).callFrame.functionName !== opt.callers) continue;
      const chain = [];
      for (let p = parent.get(id); p !== undefined && chain.length < 9; p = parent.get(p)) chain.push(place(node.get(p).callFrame));
      add(chain.join(' < '), t);
    }
  } else if (opt.inclusive) {
    const re = new RegExp(opt.match);
    for (const [id, t] of busy) {
      const seen = new Set();
      for (let p = id; p !== undefined; p = parent.get(p)) { const k = place(node.get(p).callFrame); if (!seen.has(k)) { seen.add(k); if (re.test(k)) add(k, t); } }
    }
  } else {
    const packages = new Map();
    for (const [id, t] of busy) {
      const cf = node.get(id).callFrame;
      add(place(cf), t);
      const pkg = cf.url.replace(/.*node_modules\/((@[^/]+\/)?[^/]+).*/, 'nm:$1').replace(/.*\/((apps|libs)\/[^/]+).*/, '$1') || cf.functionName;
      packages.set(pkg, (packages.get(pkg) ?? 0) + t);
    }
    console.log(`\n=== ${file}: busy ${(total / 1000).toFixed(0)} ms`);
    console.log('  by package:', [...packages].sort((a, b) => b[1] - a[1]).slice(0, 14).map(([k, t]) => `${k} ${(t / 1000).toFixed(0)}`).join(', '));
  }
  if (opt.callers || opt.inclusive) console.log(`\n=== ${file}`);
  for (const [k, t] of [...sum].sort((a, b) => b[1] - a[1]).slice(0, top)) console.log(`  ${(t / 1000).toFixed(1).padStart(8)} ms  ${k}`);
}
