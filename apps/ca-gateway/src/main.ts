import 'reflect-metadata';
import { loadConfig } from '@thk/core';
import { runMain } from '@thk/service-kit';
import { startCaGateway } from './ca-gateway.app.js';
import { caGatewayConfigFromEnv, caGatewayEnvSchema } from './config/ca-gateway.config.js';

await runMain('ca-gateway', (logger) => startCaGateway(caGatewayConfigFromEnv(loadConfig(caGatewayEnvSchema)), { logger }));
