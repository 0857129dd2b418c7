import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '../../../..');
export const cabinetDir = resolve(repoRoot, 'apps/cabinet');
export const artifactsDir = resolve(cabinetDir, 'test-artifacts');
