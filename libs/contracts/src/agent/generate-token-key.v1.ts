import { z } from 'zod';
import { defineAgentMessage } from '../common/define.js';
import { compactJwe, keyAlgorithm, personSubject, tokenSerial, uuid } from '../common/primitives.js';

/**
 * Asks one agent to generate a key pair on one token. PINs travel only sealed to the agent's
 * key (compact JWE, ECDH-ES + A256GCM): the server never sees them in clear.
 */
export const GenerateTokenKeyV1 = defineAgentMessage({
  kind: 'command', type: 'GenerateTokenKey', version: 1, name: 'generate-token-key',
  schema: z.strictObject({
    requestId: uuid,
    tokenSerial,
    algorithm: keyAlgorithm,
    label: z.string().min(1).max(64),
    subject: personSubject,
    sealedNewPin: compactJwe,
    sealedCurrentPin: compactJwe.nullable(),
  }),
});
export type GenerateTokenKeyV1 = z.infer<typeof GenerateTokenKeyV1.schema>;
