import { z } from 'zod';
import { defineAgentMessage } from '../common/define.js';
import { tokenSerial, uuid } from '../common/primitives.js';

/** Compensation: destroy what this agent created for the request (and nothing else). */
export const DestroyTokenKeyV1 = defineAgentMessage({
  kind: 'command', type: 'DestroyTokenKey', version: 1, name: 'destroy-token-key',
  schema: z.strictObject({
    requestId: uuid,
    tokenSerial,
    reason: z.string().max(200),
  }),
});
export type DestroyTokenKeyV1 = z.infer<typeof DestroyTokenKeyV1.schema>;
