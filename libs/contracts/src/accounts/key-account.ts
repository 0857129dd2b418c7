import { z } from 'zod';
import { certificateSummary, isoDateTime, keyAlgorithm, owner, uuid } from '../common/primitives.js';
import { sealingJwk } from '../agent/agent-inventory-reported.v1.js';

export const keyKind = z.enum(['cloud', 'hardware', 'file']);
export const keyStatus = z.enum(['pending', 'active', 'blocked', 'expired', 'revoked', 'failed']);
export type KeyStatus = z.infer<typeof keyStatus>;

/** The menu items of the cabinet's key list (the seed's three-dots menu). */
export const keyAction = z.enum([
  'view-application',
  'download-certificates',
  'check-certificate-status',
  'extend-certificate',
  'activate-access',
  'block-access',
  'change-password',
  'generate-access-token',
  'form-temporary-file-key',
  'form-temporary-hardware-key',
]);
export type KeyAction = z.infer<typeof keyAction>;

/** api.md `KeyAccount`, exactly. */
export const keyAccount = z.strictObject({
  id: uuid,
  kind: keyKind,
  temporary: z.boolean(),
  baseKeyId: uuid.nullable(),
  owner,
  status: keyStatus,
  createdAt: isoDateTime,
  certificate: certificateSummary.omit({ serialNumber: true }).extend({ serialNumber: z.string() }).nullable(),
  token: z.strictObject({ serial: z.string(), model: z.string(), label: z.string() }).nullable(),
  actions: z.array(keyAction),
});
export type KeyAccount = z.infer<typeof keyAccount>;

/** api.md `Token`, exactly. */
export const tokenView = z.strictObject({
  tokenId: z.string(),
  agentId: z.string(),
  serial: z.string(),
  model: z.string(),
  label: z.string(),
  display: z.string(),
  userPinInitialized: z.boolean(),
  algorithms: z.array(keyAlgorithm),
  agentKey: sealingJwk,
});
export type TokenView = z.infer<typeof tokenView>;
