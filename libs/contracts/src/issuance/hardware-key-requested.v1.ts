import { z } from 'zod';
import { defineMessage } from '../common/define.js';
import { keyAlgorithm, tokenRef, uuid, validityWindow } from '../common/primitives.js';

/** A saga started: the accounts service shows a `pending` row under `keyAccountId`. */
export const HardwareKeyRequestedV1 = defineMessage({
  kind: 'event', type: 'HardwareKeyRequested', version: 1,
  subject: 'issuance.evt.hardware-key-requested.v1',
  schema: z.strictObject({
    requestId: uuid,
    userId: uuid,
    baseKeyId: uuid,
    keyAccountId: uuid,
    validity: validityWindow,
    token: tokenRef,
    algorithm: keyAlgorithm,
    requestedAt: z.iso.datetime({ offset: true }),
  }),
});
export type HardwareKeyRequestedV1 = z.infer<typeof HardwareKeyRequestedV1.schema>;
