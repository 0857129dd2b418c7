import { z } from 'zod';
import { defineAgentMessage } from '../common/define.js';
import { ckaIdHex, derBase64, keyAlgorithm, keyEvidence, tokenSerial, uuid } from '../common/primitives.js';

export const TokenKeyGeneratedV1 = defineAgentMessage({
  kind: 'event', type: 'TokenKeyGenerated', version: 1, name: 'token-key-generated',
  schema: z.strictObject({
    requestId: uuid,
    tokenSerial,
    keyId: ckaIdHex,
    algorithm: keyAlgorithm,
    /** PKCS#10, DER, signed by the token key (proof of possession). */
    csr: derBase64,
    evidence: keyEvidence,
  }),
});
export type TokenKeyGeneratedV1 = z.infer<typeof TokenKeyGeneratedV1.schema>;
