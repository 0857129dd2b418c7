import { z } from 'zod';
import { defineMessage } from '../common/define.js';
import { certificateSummary, ckaIdHex, derBase64, keyAlgorithm, tokenRef, uuid } from '../common/primitives.js';

export const TemporaryHardwareKeyFormedV1 = defineMessage({
  kind: 'event', type: 'TemporaryHardwareKeyFormed', version: 1,
  subject: 'issuance.evt.temporary-hardware-key-formed.v1',
  schema: z.strictObject({
    requestId: uuid,
    userId: uuid,
    baseKeyId: uuid,
    keyAccountId: uuid,
    token: tokenRef,
    tokenKeyId: ckaIdHex,
    algorithm: keyAlgorithm,
    certificate: certificateSummary.extend({ der: derBase64 }),
    formedAt: z.iso.datetime({ offset: true }),
  }),
});
export type TemporaryHardwareKeyFormedV1 = z.infer<typeof TemporaryHardwareKeyFormedV1.schema>;
