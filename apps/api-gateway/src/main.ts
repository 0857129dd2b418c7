import 'reflect-metadata';
import { runMain } from '@thk/service-kit';
import { startApiGateway } from './api-gateway.app.js';
import { gatewayConfigFromEnv } from './config.js';

await runMain('api-gateway', () => startApiGateway(gatewayConfigFromEnv()));
