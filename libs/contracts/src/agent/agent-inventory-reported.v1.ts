import { z } from 'zod';
import { defineAgentMessage } from '../common/define.js';
import { agentId, keyAlgorithm, tokenSerial } from '../common/primitives.js';

export const sealingJwk = z.strictObject({
  kty: z.literal('EC'),
  crv: z.literal('P-256'),
  x: z.string().regex(/^[A-Za-z0-9_-]{43}$/),
  y: z.string().regex(/^[A-Za-z0-9_-]{43}$/),
  kid: z.string().max(100).optional(),
  alg: z.literal('ECDH-ES').optional(),
  use: z.literal('enc').optional(),
});
export type SealingJwk = z.infer<typeof sealingJwk>;

export const inventoryToken = z.strictObject({
  serial: tokenSerial,
  model: z.string().max(128),
  label: z.string().max(128),
  manufacturer: z.string().max(128),
  userPinInitialized: z.boolean(),
  userPinLocked: z.boolean(),
  userPinCountLow: z.boolean(),
  userPinFinalTry: z.boolean(),
  algorithms: z.array(keyAlgorithm).max(10),
});
export type InventoryToken = z.infer<typeof inventoryToken>;

/** Sent at start, on every token change and as a heartbeat; the registry derives "online" from it. */
export const AgentInventoryReportedV1 = defineAgentMessage({
  kind: 'event', type: 'AgentInventoryReported', version: 1, name: 'inventory-reported',
  schema: z.strictObject({
    agentId,
    reportedAt: z.iso.datetime({ offset: true }),
    heartbeatSeconds: z.number().int().min(1).max(3_600),
    sealingKey: sealingJwk,
    tokens: z.array(inventoryToken).max(64),
  }),
});
export type AgentInventoryReportedV1 = z.infer<typeof AgentInventoryReportedV1.schema>;
