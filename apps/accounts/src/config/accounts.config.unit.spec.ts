import { randomBytes } from 'node:crypto';
import { loadConfig } from '@thk/core';
import { DEVELOPMENT_KEK_LABEL, accountsConfigFromEnv, accountsEnvSchema, developmentKek } from './accounts.config.js';

const configOf = (env: Record<string, string>) => accountsConfigFromEnv(loadConfig(accountsEnvSchema, env), env);

describe('accounts.config', () => {
  describe('accountsConfigFromEnv', () => {
    it('refuses to start outside development mode without a KEK', () => {
      expect(() => configOf({})).toThrow(/ACCOUNTS_KEK is required/);
      expect(() => configOf({ ACCOUNTS_KEK: randomBytes(16).toString('base64') })).toThrow(/32 bytes/);
    });

    it('uses the clearly labelled development KEK only in development mode', () => {
      const config = configOf({ ACCOUNTS_DEV_MODE: 'true' });
      expect(config.kek).toEqual({ id: 'development', key: developmentKek() });
      expect(DEVELOPMENT_KEK_LABEL).toMatch(/DEVELOPMENT-ONLY/);
    });

    it('defaults to production scrypt strength, about the core count of KDFs, and the database named accounts', () => {
      const config = configOf({ ACCOUNTS_KEK: randomBytes(32).toString('base64'), DATABASE_URL: 'postgres://postgres@db:5432/postgres' });
      expect(config.kdf).toEqual({ log2N: 17, r: 8, p: 1 });
      expect(config.kdfConcurrency).toBeGreaterThanOrEqual(1);
      expect(config.kdfMaxQueue).toBe(config.kdfConcurrency * 4);
      expect(config.maxPasswordAttempts).toBe(5);
      expect(config.databaseUrl).toBe('postgres://postgres@db:5432/accounts');
    });

    it('reads retired KEKs that still open older records', () => {
      const old = randomBytes(32);
      const config = configOf({ ACCOUNTS_KEK: randomBytes(32).toString('base64'), ACCOUNTS_KEK_ID: 'kek-2', ACCOUNTS_KEK_PREVIOUS: `kek-1:${old.toString('base64')}` });
      expect(config.previousKeks).toEqual([{ id: 'kek-1', key: old }]);
      expect(() => configOf({ ACCOUNTS_DEV_MODE: 'true', ACCOUNTS_KEK_PREVIOUS: 'kek-1:AAAA' })).toThrow(/ACCOUNTS_KEK_PREVIOUS/);
    });

    it('refuses scrypt below N = 2^17 or r = 8 outside development mode, and allows it in development mode', () => {
      const kek = randomBytes(32).toString('base64');
      expect(() => configOf({ ACCOUNTS_KEK: kek, ACCOUNTS_KDF_LOG2N: '16' })).toThrow(/scrypt N = 2\^16, r = 8 .*is below the recommended strength N = 2\^17, r = 8; .*only in development mode/);
      expect(() => configOf({ ACCOUNTS_KEK: kek, ACCOUNTS_KDF_LOG2N: '10' })).toThrow(/N = 2\^10, r = 8 .*below the recommended strength/);
      expect(() => configOf({ ACCOUNTS_KEK: kek, ACCOUNTS_KDF_R: '4' })).toThrow(/N = 2\^17, r = 4 .*below the recommended strength/);
      expect(configOf({ ACCOUNTS_KEK: kek, ACCOUNTS_KDF_LOG2N: '18', ACCOUNTS_KDF_R: '8', ACCOUNTS_KDF_P: '2' }).kdf).toEqual({ log2N: 18, r: 8, p: 2 });
      expect(configOf({ ACCOUNTS_DEV_MODE: 'true', ACCOUNTS_KDF_LOG2N: '10', ACCOUNTS_KDF_R: '1' }).kdf).toEqual({ log2N: 10, r: 1, p: 1 });
      expect(configOf({ ACCOUNTS_DEV_MODE: 'true', ACCOUNTS_KEK: kek, ACCOUNTS_KDF_LOG2N: '12' }).kdf.log2N).toBe(12);
    });

    it('refuses an authorization lifetime beyond 10 minutes', () => {
      expect(() => configOf({ ACCOUNTS_DEV_MODE: 'true', ACCOUNTS_AUTHORIZATION_TTL_SECONDS: '601' })).toThrow();
    });
  });
});
