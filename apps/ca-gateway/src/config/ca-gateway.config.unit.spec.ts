import { randomBytes } from 'node:crypto';
import { loadConfig } from '@thk/core';
import { caGatewayConfigFromEnv, caGatewayEnvSchema, developmentKek } from './ca-gateway.config.js';

const configOf = (env: Record<string, string>) => caGatewayConfigFromEnv(loadConfig(caGatewayEnvSchema, env), env);

describe('caGatewayConfigFromEnv', () => {
  it('refuses to start without a KEK outside development mode', () => {
    expect(() => configOf({})).toThrow(/CA_KEK is required/);
  });
  it('uses the public development KEK only in development mode', () => {
    const c = configOf({ CA_DEV_MODE: 'true' });
    expect(c.kek).toEqual({ id: 'development', key: developmentKek() });
    expect(c.devMode).toBe(true);
  });
  it('takes a 32-byte KEK and refuses another length', () => {
    const key = randomBytes(32);
    expect(configOf({ CA_KEK: key.toString('base64'), CA_KEK_ID: 'k2' }).kek).toEqual({ id: 'k2', key });
    expect(() => configOf({ CA_KEK: randomBytes(16).toString('base64') })).toThrow(/exactly 32 bytes/);
  });
  it('names the database ca on the shared server and defaults the CRL URL to the API gateway', () => {
    const c = configOf({ CA_DEV_MODE: 'true', DATABASE_URL: 'postgres://u@db:5432/postgres' });
    expect(c.databaseUrl).toBe('postgres://u@db:5432/ca');
    expect(c.crl).toEqual({ url: 'http://127.0.0.1:8080/pki/crl', validitySeconds: 86_400, refreshSeconds: 43_200 });
  });
  it('wants import certificate and key together, and a complete PKCS#11 configuration', () => {
    expect(() => configOf({ CA_DEV_MODE: 'true', CA_IMPORT_CERT_FILE: '/x.pem' })).toThrow(/go together/);
    expect(() => configOf({ CA_DEV_MODE: 'true', CA_PKCS11_MODULE: '/lib.so' })).toThrow(/CA_PKCS11_TOKEN_LABEL/);
    expect(configOf({ CA_DEV_MODE: 'true', CA_PKCS11_MODULE: '/lib.so', CA_PKCS11_TOKEN_LABEL: 'ca', CA_PKCS11_PIN: '1234' }).ca.pkcs11).toEqual({ module: '/lib.so', tokenLabel: 'ca', pin: '1234', keyLabel: 'thk-issuing-ca' });
  });
  it('refuses malformed policy OIDs', () => {
    expect(() => configOf({ CA_DEV_MODE: 'true', CA_POLICY_OIDS: '1.2.x' })).toThrow(/OIDs/);
    expect(configOf({ CA_DEV_MODE: 'true', CA_POLICY_OIDS: '1.2.804.2.1.1.1.2.2,1.3.6.1.4.1.1' }).policyOids).toEqual(['1.2.804.2.1.1.1.2.2', '1.3.6.1.4.1.1']);
  });
});
