import 'reflect-metadata';
import { createLogger } from '@thk/core';
import { startApiGateway } from './api-gateway.app.js';
import { gatewayConfigFromEnv } from './config.js';

const log = createLogger('api-gateway');

try {
  const gateway = await startApiGateway(gatewayConfigFromEnv());
  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, 'stopping');
    const force = setTimeout(() => process.exit(1), 15_000);
    force.unref();
    await gateway.close();
    process.exit(0);
  };
  process.once('SIGTERM', () => void stop('SIGTERM'));
  process.once('SIGINT', () => void stop('SIGINT'));
} catch (error) {
  log.fatal({ err: error }, 'api-gateway failed to start');
  process.exit(1);
}
