import 'reflect-metadata';
import { loadConfig } from '@thk/core';
import { runMain } from '@thk/service-kit';
import { issuanceConfigFromEnv, issuanceEnvSchema } from './config/issuance.config.js';
import { startIssuance } from './issuance.app.js';

await runMain('issuance', (logger) => startIssuance(issuanceConfigFromEnv(loadConfig(issuanceEnvSchema)), { logger }));
