import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';
import { loadConfig, natsUrlDefault } from '@thk/core';
import { natsConfigFromEnv, type NatsConnectionConfig } from '@thk/messaging';

export type AuthMode = 'jwt' | 'dev';

export interface RateLimitRule {
  /** Calls allowed at once (bucket size). */
  burst: number;
  /** Calls refilled per minute. */
  perMinute: number;
}

export interface GatewayConfig {
  http: { port: number; host: string; bodyLimitBytes: number; trustProxy: boolean };
  nats: NatsConnectionConfig;
  /** Stream replicas when the gateway provisions the streams (1 on one server, 3 in a cluster). */
  streamReplicas: number;
  auth: {
    mode: AuthMode;
    issuer: string;
    audience: string;
    /** Keys of the identity provider: a JWKS URL and/or a PEM public key (SPKI). */
    jwksUrl: string | null;
    publicKeyPem: string | null;
    algorithms: string[];
    /** The claim naming the user (its value is the accounts user id). */
    userClaim: string;
    clockToleranceSeconds: number;
    /** dev mode: HS256 secret shared by replicas; absent → an ES256 key generated at start. */
    devSecret: string | null;
    devTokenTtlSeconds: number;
  };
  rpc: {
    timeoutMs: number;
    /** The forming call runs the depository's KDF (~0.6 s, queued under load). */
    formingTimeoutMs: number;
  };
  rateLimit: { perUser: RateLimitRule; perKey: RateLimitRule; perClient: RateLimitRule };
  progress: {
    /** Requests whose progress events are kept in memory for SSE replay (least recently used evicted). */
    bufferedRequests: number;
    heartbeatMs: number;
    /** An SSE stream is closed after this long; the client resumes with Last-Event-ID. */
    maxStreamMs: number;
  };
  /** Static files of the cabinet page, served at `/` when the directory exists. */
  cabinetDir: string | null;
}

const here = dirname(fileURLToPath(import.meta.url));
/** apps/api-gateway/{src,dist} → apps/cabinet/dist */
export const defaultCabinetDir = resolve(here, '../../cabinet/dist');

const int = (def: number, min = 0) => z.coerce.number().int().min(min).default(def);
const rule = (value: string | undefined, fallback: RateLimitRule): RateLimitRule => {
  if (!value) return fallback;
  const m = /^(\d+)\/(\d+)$/.exec(value.trim());
  if (!m) throw new Error(`rate limit "${value}": expected "<burst>/<perMinute>"`);
  return { burst: Number(m[1]), perMinute: Number(m[2]) };
};
const ruleString = z.string().regex(/^\d+\/\d+$/, 'expected "<burst>/<perMinute>", e.g. 10/10').optional();

export const gatewayEnvSchema = z.object({
  HTTP_PORT: int(8080),
  HTTP_HOST: z.string().default('127.0.0.1'),
  HTTP_BODY_LIMIT_BYTES: int(64 * 1024, 1024),
  HTTP_TRUST_PROXY: z.enum(['true', 'false']).default('false'),
  NATS_URL: z.string().default(natsUrlDefault),
  NATS_STREAM_REPLICAS: int(1, 1),
  AUTH_MODE: z.enum(['jwt', 'dev']).default('jwt'),
  AUTH_ISSUER: z.string().min(1).optional(),
  AUTH_AUDIENCE: z.string().min(1).optional(),
  AUTH_JWKS_URL: z.url().optional(),
  AUTH_PUBLIC_KEY_PEM: z.string().optional(),
  AUTH_PUBLIC_KEY_FILE: z.string().optional(),
  AUTH_ALGORITHMS: z.string().default('RS256,PS256,ES256,EdDSA'),
  AUTH_USER_CLAIM: z.string().default('sub'),
  AUTH_CLOCK_TOLERANCE_SECONDS: int(30),
  DEV_AUTH_SECRET: z.string().min(32, 'DEV_AUTH_SECRET: at least 32 characters').optional(),
  DEV_TOKEN_TTL_SECONDS: int(8 * 3600, 60),
  RPC_TIMEOUT_MS: int(5_000, 50),
  RPC_FORMING_TIMEOUT_MS: int(20_000, 50),
  RATE_LIMIT_PASSWORD_PER_USER: ruleString,
  RATE_LIMIT_PASSWORD_PER_KEY: ruleString,
  RATE_LIMIT_PASSWORD_PER_CLIENT: ruleString,
  PROGRESS_BUFFERED_REQUESTS: int(10_000, 1),
  SSE_HEARTBEAT_MS: int(15_000, 100),
  SSE_MAX_STREAM_MS: int(15 * 60_000, 1_000),
  CABINET_DIR: z.string().optional(),
}).superRefine((env, ctx) => {
  if (env.AUTH_MODE === 'jwt') {
    if (!env.AUTH_ISSUER) ctx.addIssue({ code: 'custom', path: ['AUTH_ISSUER'], message: 'required when AUTH_MODE=jwt' });
    if (!env.AUTH_AUDIENCE) ctx.addIssue({ code: 'custom', path: ['AUTH_AUDIENCE'], message: 'required when AUTH_MODE=jwt' });
    if (!env.AUTH_JWKS_URL && !env.AUTH_PUBLIC_KEY_PEM && !env.AUTH_PUBLIC_KEY_FILE) {
      ctx.addIssue({ code: 'custom', path: ['AUTH_JWKS_URL'], message: 'AUTH_JWKS_URL, AUTH_PUBLIC_KEY_PEM or AUTH_PUBLIC_KEY_FILE is required when AUTH_MODE=jwt' });
    }
  }
});

export const defaultRateLimits = {
  perUser: { burst: 10, perMinute: 10 },
  perKey: { burst: 5, perMinute: 5 },
  perClient: { burst: 20, perMinute: 20 },
} satisfies GatewayConfig['rateLimit'];

/** Reads the gateway's configuration from the environment (refuses to start on a bad value). */
export function gatewayConfigFromEnv(env: NodeJS.ProcessEnv = process.env): GatewayConfig {
  const e = loadConfig(gatewayEnvSchema, env);
  const pem = e.AUTH_PUBLIC_KEY_PEM ?? (e.AUTH_PUBLIC_KEY_FILE ? readFileSync(e.AUTH_PUBLIC_KEY_FILE, 'utf8') : null);
  return {
    http: { port: e.HTTP_PORT, host: e.HTTP_HOST, bodyLimitBytes: e.HTTP_BODY_LIMIT_BYTES, trustProxy: e.HTTP_TRUST_PROXY === 'true' },
    nats: natsConfigFromEnv('api-gateway', { ...env, NATS_URL: e.NATS_URL }),
    streamReplicas: e.NATS_STREAM_REPLICAS,
    auth: {
      mode: e.AUTH_MODE,
      issuer: e.AUTH_ISSUER ?? 'thk-dev',
      audience: e.AUTH_AUDIENCE ?? 'thk-cabinet',
      jwksUrl: e.AUTH_JWKS_URL ?? null,
      publicKeyPem: pem,
      algorithms: e.AUTH_ALGORITHMS.split(',').map((a) => a.trim()).filter(Boolean),
      userClaim: e.AUTH_USER_CLAIM,
      clockToleranceSeconds: e.AUTH_CLOCK_TOLERANCE_SECONDS,
      devSecret: e.DEV_AUTH_SECRET ?? null,
      devTokenTtlSeconds: e.DEV_TOKEN_TTL_SECONDS,
    },
    rpc: { timeoutMs: e.RPC_TIMEOUT_MS, formingTimeoutMs: e.RPC_FORMING_TIMEOUT_MS },
    rateLimit: {
      perUser: rule(e.RATE_LIMIT_PASSWORD_PER_USER, defaultRateLimits.perUser),
      perKey: rule(e.RATE_LIMIT_PASSWORD_PER_KEY, defaultRateLimits.perKey),
      perClient: rule(e.RATE_LIMIT_PASSWORD_PER_CLIENT, defaultRateLimits.perClient),
    },
    progress: { bufferedRequests: e.PROGRESS_BUFFERED_REQUESTS, heartbeatMs: e.SSE_HEARTBEAT_MS, maxStreamMs: e.SSE_MAX_STREAM_MS },
    cabinetDir: e.CABINET_DIR ?? defaultCabinetDir,
  };
}
