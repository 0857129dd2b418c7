import { z } from 'zod';
import { databaseUrlDefault, natsUrlDefault } from '@thk/core';
import { natsConfigFromEnv, type NatsConnectionConfig } from '@thk/messaging';
import { serviceDatabaseUrl } from '@thk/persistence';
import { assertTimeZone } from '../validity/zoned-time.js';

/** The service's notion of now; tests move it. */
export type Clock = () => Date;

const int = (min: number, max: number) => z.coerce.number().int().min(min).max(max);

/** The environment the issuance service reads (see README). */
export const issuanceEnvSchema = z.object({
  NATS_URL: z.string().default(natsUrlDefault),
  DATABASE_URL: z.string().default(databaseUrlDefault),
  ISSUANCE_DATABASE_URL: z.string().optional(),
  HTTP_PORT: int(0, 65_535).default(3003),
  HTTP_HOST: z.string().default('127.0.0.1'),
  /** How long the token agent may take for one step (generate, install, destroy). */
  ISSUANCE_AGENT_STEP_TIMEOUT_MS: int(100, 3_600_000).default(120_000),
  /** How long the CA may take to issue or revoke. */
  ISSUANCE_CA_STEP_TIMEOUT_MS: int(100, 3_600_000).default(30_000),
  /** How often the scheduler looks for due deadlines. */
  ISSUANCE_DEADLINE_POLL_MS: int(20, 600_000).default(1_000),
  /** A base certificate ending sooner than this is refused (`base-certificate-expiring`). */
  ISSUANCE_MINIMUM_VALIDITY_MS: int(0, 365 * 86_400_000).default(3_600_000),
  /** The zone in which a calendar month is counted (the zone the cabinet shows). */
  ISSUANCE_TIME_ZONE: z.string().default('Europe/Kyiv'),
  /** How long the issuing CA's notAfter is cached. */
  ISSUANCE_ISSUER_CACHE_MS: int(0, 86_400_000).default(600_000),
  /** Timeout of each request/reply call to accounts and the CA. */
  ISSUANCE_RPC_TIMEOUT_MS: int(100, 120_000).default(10_000),
});

export interface IssuanceConfig {
  nats: NatsConnectionConfig;
  databaseUrl: string;
  httpPort: number;
  httpHost: string;
  agentStepTimeoutMs: number;
  caStepTimeoutMs: number;
  deadlinePollMs: number;
  minimumValidityMs: number;
  timeZone: string;
  issuerCacheMs: number;
  rpcTimeoutMs: number;
  clock: Clock;
}

export function issuanceConfigFromEnv(env: z.infer<typeof issuanceEnvSchema>, rawEnv: NodeJS.ProcessEnv = process.env): IssuanceConfig {
  try {
    assertTimeZone(env.ISSUANCE_TIME_ZONE);
  } catch {
    throw new Error(`ISSUANCE_TIME_ZONE: unknown time zone "${env.ISSUANCE_TIME_ZONE}"`);
  }
  return {
    nats: { ...natsConfigFromEnv('issuance', rawEnv), servers: env.NATS_URL },
    databaseUrl: env.ISSUANCE_DATABASE_URL ?? serviceDatabaseUrl(env.DATABASE_URL, 'issuance'),
    httpPort: env.HTTP_PORT,
    httpHost: env.HTTP_HOST,
    agentStepTimeoutMs: env.ISSUANCE_AGENT_STEP_TIMEOUT_MS,
    caStepTimeoutMs: env.ISSUANCE_CA_STEP_TIMEOUT_MS,
    deadlinePollMs: env.ISSUANCE_DEADLINE_POLL_MS,
    minimumValidityMs: env.ISSUANCE_MINIMUM_VALIDITY_MS,
    timeZone: env.ISSUANCE_TIME_ZONE,
    issuerCacheMs: env.ISSUANCE_ISSUER_CACHE_MS,
    rpcTimeoutMs: env.ISSUANCE_RPC_TIMEOUT_MS,
    clock: () => new Date(),
  };
}
