import { createHash } from 'node:crypto';
import { z } from 'zod';
import { databaseUrlDefault, natsUrlDefault } from '@thk/core';
import { natsConfigFromEnv, type NatsConnectionConfig } from '@thk/messaging';
import { serviceDatabaseUrl } from '@thk/persistence';

/**
 * The development key-encryption key is derived from a public label: it protects nothing and is
 * accepted only in development mode, so that a development stack starts without configuration.
 */
export const DEVELOPMENT_KEK_LABEL = 'thk ca-gateway DEVELOPMENT-ONLY key-encryption key (public, protects nothing)';
export const developmentKek = (): Buffer => createHash('sha256').update(DEVELOPMENT_KEK_LABEL).digest();

const bool = z.enum(['true', 'false', '1', '0']).transform((v) => v === 'true' || v === '1');
const int = (min: number, max: number) => z.coerce.number().int().min(min).max(max);
const oidList = z.string().regex(/^(\d+(\.\d+)+)(,\d+(\.\d+)+)*$/, 'comma-separated OIDs');

/** The environment the CA gateway reads (see README). */
export const caGatewayEnvSchema = z.object({
  NATS_URL: z.string().default(natsUrlDefault),
  DATABASE_URL: z.string().default(databaseUrlDefault),
  CA_DATABASE_URL: z.string().optional(),
  HTTP_PORT: int(0, 65_535).default(3004),
  HTTP_HOST: z.string().default('127.0.0.1'),
  /** Enables `CertifyCloudKeyV1` (development users' cloud keys, any window, past ones included). */
  CA_DEV_MODE: bool.default(false),
  /** Base64 of 32 random bytes: encrypts the CA private key at rest. Required outside development mode. */
  CA_KEK: z.string().optional(),
  CA_KEK_ID: z.string().regex(/^[A-Za-z0-9._-]{1,64}$/).optional(),
  /** Subject of a CA created at first start. */
  CA_COMMON_NAME: z.string().min(1).max(64).default('THK Development Issuing CA'),
  CA_ORGANIZATION: z.string().max(64).optional(),
  CA_VALIDITY_DAYS: int(1, 36_500).default(3_650),
  /** Where relying parties fetch the CRL: the API gateway's public `/pki/crl` (`/v1/ca/crl` needs a bearer token). */
  CA_CRL_URL: z.string().url().default('http://127.0.0.1:8080/pki/crl'),
  CA_CRL_VALIDITY_SECONDS: int(60, 31 * 86_400).default(86_400),
  /** A new CRL is signed when less than this is left before `nextUpdate` (default: half the validity). */
  CA_CRL_REFRESH_SECONDS: int(1, 31 * 86_400).optional(),
  /** Extra certificate policy OIDs (the ETSI QCP-n / QCP-n-qscd policy is always present). */
  CA_POLICY_OIDS: oidList.optional(),
  /** First start only: import this CA (PEM certificate, PKCS#8 PEM key, PEM chain up to the root) instead of creating one. */
  CA_IMPORT_CERT_FILE: z.string().optional(),
  CA_IMPORT_KEY_FILE: z.string().optional(),
  CA_IMPORT_CHAIN_FILE: z.string().optional(),
  /** Keep the CA key in a PKCS#11 token instead (module path, token label, user PIN, key label). */
  CA_PKCS11_MODULE: z.string().optional(),
  CA_PKCS11_TOKEN_LABEL: z.string().optional(),
  CA_PKCS11_PIN: z.string().optional(),
  CA_PKCS11_KEY_LABEL: z.string().default('thk-issuing-ca'),
  CA_CONSUMER_CONCURRENCY: int(1, 1_000).default(256),
  CA_DB_POOL_SIZE: int(1, 200).default(20),
  /** How far an authorization's `iat`/`exp` and the requested `notBefore` may stray from our clock. */
  CA_CLOCK_TOLERANCE_SECONDS: int(0, 3_600).default(30),
  CA_MAX_BACKDATE_SECONDS: int(0, 86_400).default(300),
});
export type CaGatewayEnv = z.infer<typeof caGatewayEnvSchema>;

export interface Pkcs11CaKeyConfig {
  module: string;
  tokenLabel: string;
  pin: string;
  keyLabel: string;
}

export interface CaGatewayConfig {
  nats: NatsConnectionConfig;
  databaseUrl: string;
  dbPoolSize: number;
  httpPort: number;
  httpHost: string;
  devMode: boolean;
  kek: { id: string; key: Buffer };
  ca: {
    commonName: string;
    organization: string | null;
    validityDays: number;
    import: { certificateFile: string; keyFile: string; chainFile: string | null } | null;
    pkcs11: Pkcs11CaKeyConfig | null;
  };
  crl: { url: string; validitySeconds: number; refreshSeconds: number };
  policyOids: string[];
  consumerConcurrency: number;
  clockToleranceSeconds: number;
  maxBackdateSeconds: number;
  /** The service's notion of now; tests move it. */
  clock: () => Date;
}

/** Turns the parsed environment into the service configuration, refusing what would be unsafe. */
export function caGatewayConfigFromEnv(env: CaGatewayEnv, rawEnv: NodeJS.ProcessEnv = process.env): CaGatewayConfig {
  let kek: CaGatewayConfig['kek'];
  if (env.CA_KEK) {
    const key = Buffer.from(env.CA_KEK, 'base64');
    if (key.length !== 32) throw new Error('CA_KEK must be base64 of exactly 32 bytes');
    kek = { id: env.CA_KEK_ID ?? 'kek-1', key };
  } else if (env.CA_DEV_MODE) {
    kek = { id: 'development', key: developmentKek() };
  } else {
    throw new Error('CA_KEK is required outside development mode (base64 of 32 random bytes)');
  }
  if (!!env.CA_IMPORT_CERT_FILE !== !!env.CA_IMPORT_KEY_FILE) throw new Error('CA_IMPORT_CERT_FILE and CA_IMPORT_KEY_FILE go together');
  let pkcs11: Pkcs11CaKeyConfig | null = null;
  if (env.CA_PKCS11_MODULE) {
    if (!env.CA_PKCS11_TOKEN_LABEL || !env.CA_PKCS11_PIN) throw new Error('CA_PKCS11_MODULE needs CA_PKCS11_TOKEN_LABEL and CA_PKCS11_PIN');
    pkcs11 = { module: env.CA_PKCS11_MODULE, tokenLabel: env.CA_PKCS11_TOKEN_LABEL, pin: env.CA_PKCS11_PIN, keyLabel: env.CA_PKCS11_KEY_LABEL };
  }
  return {
    nats: { ...natsConfigFromEnv('ca-gateway', rawEnv), servers: env.NATS_URL },
    databaseUrl: env.CA_DATABASE_URL ?? serviceDatabaseUrl(env.DATABASE_URL, 'ca'),
    dbPoolSize: env.CA_DB_POOL_SIZE,
    httpPort: env.HTTP_PORT,
    httpHost: env.HTTP_HOST,
    devMode: env.CA_DEV_MODE,
    kek,
    ca: {
      commonName: env.CA_COMMON_NAME,
      organization: env.CA_ORGANIZATION ?? null,
      validityDays: env.CA_VALIDITY_DAYS,
      import: env.CA_IMPORT_CERT_FILE && env.CA_IMPORT_KEY_FILE
        ? { certificateFile: env.CA_IMPORT_CERT_FILE, keyFile: env.CA_IMPORT_KEY_FILE, chainFile: env.CA_IMPORT_CHAIN_FILE ?? null }
        : null,
      pkcs11,
    },
    crl: {
      url: env.CA_CRL_URL,
      validitySeconds: env.CA_CRL_VALIDITY_SECONDS,
      refreshSeconds: Math.min(env.CA_CRL_REFRESH_SECONDS ?? Math.floor(env.CA_CRL_VALIDITY_SECONDS / 2), env.CA_CRL_VALIDITY_SECONDS - 1) || 1,
    },
    policyOids: env.CA_POLICY_OIDS ? env.CA_POLICY_OIDS.split(',') : [],
    consumerConcurrency: env.CA_CONSUMER_CONCURRENCY,
    clockToleranceSeconds: env.CA_CLOCK_TOLERANCE_SECONDS,
    maxBackdateSeconds: env.CA_MAX_BACKDATE_SECONDS,
    clock: () => new Date(),
  };
}
