import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { jestConfig } from '../../jest.preset.mjs';

const dir = dirname(fileURLToPath(import.meta.url));
// SoftHSM reads SOFTHSM2_CONF from the real environment: see test/process-env.environment.cjs.
export default jestConfig(dir, { testEnvironment: join(dir, 'test/process-env.environment.cjs') });
