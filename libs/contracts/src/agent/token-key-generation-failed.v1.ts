import { z } from 'zod';
import { defineAgentMessage } from '../common/define.js';
import { tokenSerial, uuid } from '../common/primitives.js';
import { tokenFailureCode } from './token-failure-codes.js';

export const TokenKeyGenerationFailedV1 = defineAgentMessage({
  kind: 'event', type: 'TokenKeyGenerationFailed', version: 1, name: 'token-key-generation-failed',
  schema: z.strictObject({
    requestId: uuid,
    tokenSerial,
    code: tokenFailureCode,
    message: z.string().max(1_000),
  }),
});
export type TokenKeyGenerationFailedV1 = z.infer<typeof TokenKeyGenerationFailedV1.schema>;
