import { createHash } from 'node:crypto';
import { availableParallelism } from 'node:os';
import { z } from 'zod';
import { databaseUrlDefault, natsUrlDefault } from '@thk/core';
import { natsConfigFromEnv, type NatsConnectionConfig } from '@thk/messaging';
import { serviceDatabaseUrl } from '@thk/persistence';

/** Production scrypt strength (OWASP 2024): N = 2^17, r = 8, p = 1. Tests lower N through config only. */
export const PRODUCTION_KDF = { log2N: 17, r: 8, p: 1 } as const;

/**
 * The weakest scrypt accepted outside development mode: N = 2^17 and r = 8 (p may only go up). The
 * schema allows N down to 2^10 so that development and tests stay fast; in production that would
 * seal cloud keys at a fraction of the recommended cost, so it is refused like the development KEK.
 */
export const MINIMUM_PRODUCTION_KDF = { log2N: PRODUCTION_KDF.log2N, r: PRODUCTION_KDF.r } as const;

/**
 * The development key-encryption key. It is derived from a public label, so it protects nothing:
 * it exists only so that a development stack starts without configuration, and is refused outside
 * development mode.
 */
export const DEVELOPMENT_KEK_LABEL = 'thk accounts DEVELOPMENT-ONLY key-encryption key (public, protects nothing)';
export const developmentKek = (): Buffer => createHash('sha256').update(DEVELOPMENT_KEK_LABEL).digest();

const bool = z.enum(['true', 'false', '1', '0']).transform((v) => v === 'true' || v === '1');
const int = (min: number, max: number) => z.coerce.number().int().min(min).max(max);

/** The environment the accounts service reads (see README). */
export const accountsEnvSchema = z.object({
  NATS_URL: z.string().default(natsUrlDefault),
  DATABASE_URL: z.string().default(databaseUrlDefault),
  ACCOUNTS_DATABASE_URL: z.string().optional(),
  HTTP_PORT: int(0, 65_535).default(3002),
  HTTP_HOST: z.string().default('127.0.0.1'),
  ACCOUNTS_DEV_MODE: bool.default(false),
  /** Base64 of 32 random bytes. Required outside development mode. */
  ACCOUNTS_KEK: z.string().optional(),
  ACCOUNTS_KEK_ID: z.string().regex(/^[A-Za-z0-9._-]{1,64}$/).optional(),
  /** Retired KEKs that still open older records: `id:base64,id:base64`. */
  ACCOUNTS_KEK_PREVIOUS: z.string().optional(),
  ACCOUNTS_KDF_LOG2N: int(10, 20).default(PRODUCTION_KDF.log2N),
  ACCOUNTS_KDF_R: int(1, 32).default(PRODUCTION_KDF.r),
  ACCOUNTS_KDF_P: int(1, 16).default(PRODUCTION_KDF.p),
  ACCOUNTS_KDF_CONCURRENCY: int(1, 64).optional(),
  ACCOUNTS_KDF_MAX_QUEUE: int(0, 1_000).optional(),
  ACCOUNTS_MAX_PASSWORD_ATTEMPTS: int(1, 100).default(5),
  ACCOUNTS_AUTHORIZATION_TTL_SECONDS: int(30, 600).default(300),
  ACCOUNTS_SWEEP_INTERVAL_MS: int(0, 86_400_000).default(60_000),
  ACCOUNTS_CA_TIMEOUT_MS: int(100, 120_000).default(10_000),
});

export interface KdfSettings { log2N: number; r: number; p: number }

export interface AccountsConfig {
  nats: NatsConnectionConfig;
  databaseUrl: string;
  httpPort: number;
  httpHost: string;
  devMode: boolean;
  kek: { id: string; key: Buffer };
  previousKeks: Array<{ id: string; key: Buffer }>;
  kdf: KdfSettings;
  /** KDFs running at once (about the core count) and how many may wait before callers get `busy`. */
  kdfConcurrency: number;
  kdfMaxQueue: number;
  maxPasswordAttempts: number;
  authorizationTtlSeconds: number;
  /** 0 disables the scheduled expiry sweep (tests call it directly). */
  sweepIntervalMs: number;
  caTimeoutMs: number;
  /** The service's notion of now; tests move it. */
  clock: () => Date;
}

/** Turns the parsed environment into the service configuration, refusing what would be unsafe. */
export function accountsConfigFromEnv(env: z.infer<typeof accountsEnvSchema>, rawEnv: NodeJS.ProcessEnv = process.env): AccountsConfig {
  let kek: AccountsConfig['kek'];
  if (env.ACCOUNTS_KEK) {
    const key = Buffer.from(env.ACCOUNTS_KEK, 'base64');
    if (key.length !== 32) throw new Error('ACCOUNTS_KEK must be base64 of exactly 32 bytes');
    kek = { id: env.ACCOUNTS_KEK_ID ?? 'kek-1', key };
  } else if (env.ACCOUNTS_DEV_MODE) {
    kek = { id: 'development', key: developmentKek() };
  } else {
    throw new Error('ACCOUNTS_KEK is required outside development mode (base64 of 32 random bytes)');
  }
  const previousKeks = (env.ACCOUNTS_KEK_PREVIOUS ?? '').split(',').map((s) => s.trim()).filter(Boolean).map((entry) => {
    const [id, b64] = entry.split(':');
    const key = Buffer.from(b64 ?? '', 'base64');
    if (!id || key.length !== 32) throw new Error('ACCOUNTS_KEK_PREVIOUS: each entry is <id>:<base64 of 32 bytes>');
    return { id, key };
  });
  if (!env.ACCOUNTS_DEV_MODE && (env.ACCOUNTS_KDF_LOG2N < MINIMUM_PRODUCTION_KDF.log2N || env.ACCOUNTS_KDF_R < MINIMUM_PRODUCTION_KDF.r)) {
    throw new Error(
      `scrypt N = 2^${env.ACCOUNTS_KDF_LOG2N}, r = ${env.ACCOUNTS_KDF_R} (ACCOUNTS_KDF_LOG2N, ACCOUNTS_KDF_R) is below the recommended strength `
      + `N = 2^${MINIMUM_PRODUCTION_KDF.log2N}, r = ${MINIMUM_PRODUCTION_KDF.r}; weaker parameters are allowed only in development mode (ACCOUNTS_DEV_MODE=true)`,
    );
  }
  const concurrency = env.ACCOUNTS_KDF_CONCURRENCY ?? Math.max(1, availableParallelism());
  return {
    nats: { ...natsConfigFromEnv('accounts', rawEnv), servers: env.NATS_URL },
    databaseUrl: env.ACCOUNTS_DATABASE_URL ?? serviceDatabaseUrl(env.DATABASE_URL, 'accounts'),
    httpPort: env.HTTP_PORT,
    httpHost: env.HTTP_HOST,
    devMode: env.ACCOUNTS_DEV_MODE,
    kek,
    previousKeks,
    kdf: { log2N: env.ACCOUNTS_KDF_LOG2N, r: env.ACCOUNTS_KDF_R, p: env.ACCOUNTS_KDF_P },
    kdfConcurrency: concurrency,
    kdfMaxQueue: env.ACCOUNTS_KDF_MAX_QUEUE ?? concurrency * 4,
    maxPasswordAttempts: env.ACCOUNTS_MAX_PASSWORD_ATTEMPTS,
    authorizationTtlSeconds: env.ACCOUNTS_AUTHORIZATION_TTL_SECONDS,
    sweepIntervalMs: env.ACCOUNTS_SWEEP_INTERVAL_MS,
    caTimeoutMs: env.ACCOUNTS_CA_TIMEOUT_MS,
    clock: () => new Date(),
  };
}
