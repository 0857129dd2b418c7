import { z } from 'zod';
import { defineMessage } from '../common/define.js';
import { certificateSerialHex, isoDateTime } from '../common/primitives.js';
import { revocationReason } from './revocation-reason.js';

export const CertificateRevokedV1 = defineMessage({
  kind: 'event', type: 'CertificateRevoked', version: 1,
  subject: 'ca.evt.certificate-revoked.v1',
  schema: z.strictObject({
    serialNumber: certificateSerialHex,
    reason: revocationReason,
    revokedAt: isoDateTime,
  }),
});
export type CertificateRevokedV1 = z.infer<typeof CertificateRevokedV1.schema>;
