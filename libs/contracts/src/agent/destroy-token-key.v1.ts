import { z } from 'zod';
import { defineAgentMessage } from '../common/define.js';
import { compactJwe, tokenSerial, uuid } from '../common/primitives.js';

/**
 * Compensation: destroy what this agent created for the request (and nothing else).
 * The private key is a private object (`CKA_PRIVATE`): the agent sees it only after logging in, so
 * the saga passes the token's user PIN sealed exactly as it was for `GenerateTokenKey`
 * (`sealedNewPin`). Without it the agent destroys only the public objects and reports that count.
 */
export const DestroyTokenKeyV1 = defineAgentMessage({
  kind: 'command', type: 'DestroyTokenKey', version: 1, name: 'destroy-token-key',
  schema: z.strictObject({
    requestId: uuid,
    tokenSerial,
    reason: z.string().max(200),
    sealedPin: compactJwe.optional(),
  }),
});
export type DestroyTokenKeyV1 = z.infer<typeof DestroyTokenKeyV1.schema>;
