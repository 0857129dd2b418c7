import 'reflect-metadata';
import { createLogger, loadConfig } from '@thk/core';
import { issuanceConfigFromEnv, issuanceEnvSchema } from './config/issuance.config.js';
import { startIssuance } from './issuance.app.js';

const log = createLogger('issuance');

try {
  const config = issuanceConfigFromEnv(loadConfig(issuanceEnvSchema));
  const running = await startIssuance(config, { logger: log });
  const stop = (signal: string) => {
    log.info({ signal }, 'stopping');
    running.close().then(() => process.exit(0), (error) => { log.error({ err: error }, 'unclean stop'); process.exit(1); });
  };
  process.once('SIGTERM', () => stop('SIGTERM'));
  process.once('SIGINT', () => stop('SIGINT'));
} catch (error) {
  log.fatal({ err: error }, 'issuance failed to start');
  process.exit(1);
}
