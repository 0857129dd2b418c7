// Shared jest set-up: ESM throughout (Nest 12 is ESM-only), TypeScript through @swc/jest with
// decorator metadata, workspace libs mapped to their sources so tests never need a build first.
import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = dirname(fileURLToPath(import.meta.url));
const swcrc = JSON.parse(readFileSync(resolve(root, '.swcrc'), 'utf8'));
delete swcrc.$schema;

/** @returns {import('jest').Config} */
export function jestConfig(projectDir, overrides = {}) {
  const name = projectDir.split('/').slice(-2).join('/');
  return {
    displayName: name,
    rootDir: projectDir,
    testEnvironment: 'node',
    testMatch: ['<rootDir>/src/**/*.spec.ts', '<rootDir>/test/**/*.spec.ts'],
    extensionsToTreatAsEsm: ['.ts'],
    transform: { '^.+\\.ts$': ['@swc/jest', { ...swcrc, swcrc: false, sourceMaps: 'inline' }] },
    moduleNameMapper: {
      '^@thk/([a-z0-9-]+)$': `${root}/libs/$1/src/index.ts`,
      '^(\\.{1,2}/.*)\\.js$': '$1',
    },
    setupFiles: [`${root}/tools/test/jest-setup.mjs`],
    reporters: ['default', `${root}/tools/test/summary-reporter.cjs`],
    testTimeout: 60_000,
    // A leaked handle must not hang CI; the suites close what they open, this is the safety net.
    forceExit: true,
    maxWorkers: Number(process.env.JEST_MAX_WORKERS ?? 2),
    ...overrides,
  };
}
