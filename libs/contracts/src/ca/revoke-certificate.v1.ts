import { z } from 'zod';
import { defineMessage } from '../common/define.js';
import { certificateSerialHex } from '../common/primitives.js';
import { revocationReason } from './revocation-reason.js';

export const RevokeCertificateV1 = defineMessage({
  kind: 'command', type: 'RevokeCertificate', version: 1,
  subject: 'ca.cmd.revoke-certificate.v1',
  schema: z.strictObject({
    serialNumber: certificateSerialHex,
    reason: revocationReason,
    /** Who asked and why, for the registry's audit trail (e.g. `issuance:compensation`). */
    requestedBy: z.string().min(1).max(100),
    comment: z.string().max(500).nullable(),
  }),
});
export type RevokeCertificateV1 = z.infer<typeof RevokeCertificateV1.schema>;
