import 'reflect-metadata';
import { loadConfig } from '@thk/core';
import { runMain } from '@thk/service-kit';
import { startAccounts } from './accounts.app.js';
import { accountsConfigFromEnv, accountsEnvSchema } from './config/accounts.config.js';

await runMain('accounts', (logger) => startAccounts(accountsConfigFromEnv(loadConfig(accountsEnvSchema)), { logger }));
