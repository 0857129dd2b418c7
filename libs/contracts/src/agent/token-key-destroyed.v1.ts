import { z } from 'zod';
import { defineAgentMessage } from '../common/define.js';
import { tokenSerial, uuid } from '../common/primitives.js';

export const TokenKeyDestroyedV1 = defineAgentMessage({
  kind: 'event', type: 'TokenKeyDestroyed', version: 1, name: 'token-key-destroyed',
  schema: z.strictObject({
    requestId: uuid,
    tokenSerial,
    /** Objects destroyed now; 0 when nothing had been created or it was already destroyed. */
    destroyedObjects: z.number().int().min(0),
  }),
});
export type TokenKeyDestroyedV1 = z.infer<typeof TokenKeyDestroyedV1.schema>;
