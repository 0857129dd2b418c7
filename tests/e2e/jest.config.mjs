import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { jestConfig } from '../../jest.preset.mjs';

// Every service runs as a real process; one stack per spec file.
export default jestConfig(dirname(fileURLToPath(import.meta.url)), { testTimeout: 180_000, maxWorkers: 1 });
