import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { jestConfig } from '../../jest.preset.mjs';

const dir = dirname(fileURLToPath(import.meta.url));
// The agent loads SoftHSM in-process, and SoftHSM reads SOFTHSM2_CONF from the real environment,
// which jest hides behind a copy: see libs/pkcs11/test/process-env.environment.cjs.
export default jestConfig(dir, { testEnvironment: join(dir, '../../libs/pkcs11/test/process-env.environment.cjs') });
