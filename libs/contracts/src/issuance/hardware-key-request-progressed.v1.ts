import { z } from 'zod';
import { defineMessage } from '../common/define.js';
import { uuid } from '../common/primitives.js';
import { hardwareKeyFailureCode, hardwareKeyRequestStatus } from './failure-codes.js';

/** One per saga state change; feeds the API gateway's progress stream (SSE). `sequence` is 1-based and gap-free. */
export const HardwareKeyRequestProgressedV1 = defineMessage({
  kind: 'event', type: 'HardwareKeyRequestProgressed', version: 1,
  subject: 'issuance.evt.hardware-key-request-progressed.v1',
  schema: z.strictObject({
    requestId: uuid,
    userId: uuid,
    sequence: z.number().int().positive(),
    status: hardwareKeyRequestStatus,
    at: z.iso.datetime({ offset: true }),
    keyId: uuid.nullable(),
    failure: z.strictObject({ code: hardwareKeyFailureCode, detail: z.string().max(1_000) }).nullable(),
  }),
});
export type HardwareKeyRequestProgressedV1 = z.infer<typeof HardwareKeyRequestProgressedV1.schema>;
