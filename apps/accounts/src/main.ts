import 'reflect-metadata';
import { createLogger, loadConfig } from '@thk/core';
import { startAccounts } from './accounts.app.js';
import { accountsConfigFromEnv, accountsEnvSchema } from './config/accounts.config.js';

const log = createLogger('accounts');

try {
  const config = accountsConfigFromEnv(loadConfig(accountsEnvSchema));
  const running = await startAccounts(config, { logger: log });
  const stop = (signal: string) => {
    log.info({ signal }, 'stopping');
    running.close().then(() => process.exit(0), (error) => { log.error({ err: error }, 'unclean stop'); process.exit(1); });
  };
  process.once('SIGTERM', () => stop('SIGTERM'));
  process.once('SIGINT', () => stop('SIGINT'));
} catch (error) {
  log.fatal({ err: error }, 'accounts failed to start');
  process.exit(1);
}
