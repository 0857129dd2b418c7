import 'reflect-metadata';
import { createLogger, loadConfig } from '@thk/core';
import { startCaGateway } from './ca-gateway.app.js';
import { caGatewayConfigFromEnv, caGatewayEnvSchema } from './config/ca-gateway.config.js';

const log = createLogger('ca-gateway');

try {
  const config = caGatewayConfigFromEnv(loadConfig(caGatewayEnvSchema));
  const running = await startCaGateway(config, { logger: log });
  const stop = (signal: string) => {
    log.info({ signal }, 'stopping');
    running.close().then(() => process.exit(0), (error) => { log.error({ err: error }, 'unclean stop'); process.exit(1); });
  };
  process.once('SIGTERM', () => stop('SIGTERM'));
  process.once('SIGINT', () => stop('SIGINT'));
} catch (error) {
  log.fatal({ err: error }, 'ca-gateway failed to start');
  process.exit(1);
}
