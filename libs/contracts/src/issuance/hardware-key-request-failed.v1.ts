import { z } from 'zod';
import { defineMessage } from '../common/define.js';
import { uuid } from '../common/primitives.js';
import { hardwareKeyFailureCode } from './failure-codes.js';

/** Published once compensation has finished: nothing of the request is left behind. */
export const HardwareKeyRequestFailedV1 = defineMessage({
  kind: 'event', type: 'HardwareKeyRequestFailed', version: 1,
  subject: 'issuance.evt.hardware-key-request-failed.v1',
  schema: z.strictObject({
    requestId: uuid,
    userId: uuid,
    baseKeyId: uuid,
    keyAccountId: uuid,
    code: hardwareKeyFailureCode,
    detail: z.string().max(1_000),
    failedAt: z.iso.datetime({ offset: true }),
  }),
});
export type HardwareKeyRequestFailedV1 = z.infer<typeof HardwareKeyRequestFailedV1.schema>;
