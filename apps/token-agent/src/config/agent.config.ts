import { homedir } from 'node:os';
import { join } from 'node:path';
import { z } from 'zod';
import { agentId as agentIdSchema } from '@thk/contracts';
import { loadConfig, natsUrlDefault } from '@thk/core';
import { natsConfigFromEnv, type NatsConnectionConfig } from '@thk/messaging';

const bool = z.enum(['true', 'false', '1', '0']).transform((v) => v === 'true' || v === '1');
const int = (min: number, max: number) => z.coerce.number().int().min(min).max(max);

/** Test-only points at which the agent kills itself (SIGKILL) to prove crash recovery. */
export const CRASH_POINTS = ['after-keypair-created', 'after-key-generated'] as const;
export type CrashPoint = (typeof CRASH_POINTS)[number];

/** The environment the token agent reads (see README). */
export const agentEnvSchema = z.object({
  NATS_URL: z.string().default(natsUrlDefault),
  NATS_CREDS: z.string().optional(),
  AGENT_ID: agentIdSchema,
  /** One PKCS#11 module path, or several separated by commas. */
  PKCS11_MODULE: z.string().min(1).transform((v) => v.split(',').map((p) => p.trim()).filter(Boolean)),
  /**
   * `slot-list` (default): a fresh `C_GetSlotList` shows insertions and removals, as the standard says.
   * `reinitialize`: for modules that read their tokens only in `C_Initialize` (SoftHSM).
   */
  PKCS11_RESCAN: z.enum(['slot-list', 'reinitialize']).default('slot-list'),
  /** SO PIN used only to set the first user PIN of a token that has none (`C_InitPIN`). */
  AGENT_SO_PIN: z.string().min(1).optional(),
  AGENT_STATE_DIR: z.string().min(1).default(join(homedir(), '.local', 'state', 'thk-token-agent')),
  AGENT_PIN_MIN_LENGTH: int(1, 255).default(6),
  AGENT_PIN_MAX_LENGTH: int(1, 255).default(32),
  AGENT_HEARTBEAT_SECONDS: int(1, 3_600).default(15),
  AGENT_POLL_MS: int(100, 600_000).default(2_000),
  AGENT_ACK_WAIT_SECONDS: int(1, 3_600).default(60),
  /** Create the streams at start (development); production agent credentials may not allow it. */
  AGENT_PROVISION_STREAMS: bool.default(true),
  /** Send a PIN even when the token says the next wrong one locks it (off: the person is not at the token). */
  AGENT_ALLOW_FINAL_TRY: bool.default(false),
  THK_TEST_CRASH_AT: z.enum(CRASH_POINTS).optional(),
}).refine((e) => e.AGENT_PIN_MIN_LENGTH <= e.AGENT_PIN_MAX_LENGTH, { message: 'AGENT_PIN_MIN_LENGTH exceeds AGENT_PIN_MAX_LENGTH', path: ['AGENT_PIN_MIN_LENGTH'] });

export interface PinPolicy { minLength: number; maxLength: number }

export interface TokenAgentConfig {
  agentId: string;
  nats: NatsConnectionConfig;
  modules: string[];
  rescan: 'slot-list' | 'reinitialize';
  soPin?: string;
  stateDir: string;
  pinPolicy: PinPolicy;
  heartbeatSeconds: number;
  pollIntervalMs: number;
  ackWaitSeconds: number;
  provisionStreams: boolean;
  allowFinalTry: boolean;
  /** Test only: kill the process at this point of key generation. */
  crashAt?: CrashPoint;
  /** The clock (tests set it). */
  now?: () => Date;
}

export function loadAgentConfig(env: NodeJS.ProcessEnv = process.env): TokenAgentConfig {
  const e = loadConfig(agentEnvSchema, env);
  return {
    agentId: e.AGENT_ID,
    nats: natsConfigFromEnv(`token-agent:${e.AGENT_ID}`, env),
    modules: e.PKCS11_MODULE,
    rescan: e.PKCS11_RESCAN,
    ...(e.AGENT_SO_PIN ? { soPin: e.AGENT_SO_PIN } : {}),
    stateDir: e.AGENT_STATE_DIR,
    pinPolicy: { minLength: e.AGENT_PIN_MIN_LENGTH, maxLength: e.AGENT_PIN_MAX_LENGTH },
    heartbeatSeconds: e.AGENT_HEARTBEAT_SECONDS,
    pollIntervalMs: e.AGENT_POLL_MS,
    ackWaitSeconds: e.AGENT_ACK_WAIT_SECONDS,
    provisionStreams: e.AGENT_PROVISION_STREAMS,
    allowFinalTry: e.AGENT_ALLOW_FINAL_TRY,
    ...(e.THK_TEST_CRASH_AT ? { crashAt: e.THK_TEST_CRASH_AT } : {}),
  };
}

/** DI token of the configuration inside the agent's Nest module. */
export const AGENT_CONFIG = Symbol('TokenAgentConfig');
