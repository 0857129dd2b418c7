import { z } from 'zod';
import { defineMessage } from '../common/define.js';
import { isoDateTime, uuid } from '../common/primitives.js';
import { keyStatus } from './key-account.js';

export const KeyStatusChangedV1 = defineMessage({
  kind: 'event', type: 'KeyStatusChanged', version: 1,
  subject: 'accounts.evt.key-status-changed.v1',
  schema: z.strictObject({
    keyId: uuid,
    userId: uuid,
    baseKeyId: uuid.nullable(),
    previousStatus: keyStatus.nullable(),
    status: keyStatus,
    reason: z.string().max(200).nullable(),
    at: isoDateTime,
  }),
});
export type KeyStatusChangedV1 = z.infer<typeof KeyStatusChangedV1.schema>;
