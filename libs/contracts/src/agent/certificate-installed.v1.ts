import { z } from 'zod';
import { defineAgentMessage } from '../common/define.js';
import { certificateSerialHex, ckaIdHex, tokenSerial, uuid } from '../common/primitives.js';

export const CertificateInstalledV1 = defineAgentMessage({
  kind: 'event', type: 'CertificateInstalled', version: 1, name: 'certificate-installed',
  schema: z.strictObject({
    requestId: uuid,
    tokenSerial,
    keyId: ckaIdHex,
    certificateSerialNumber: certificateSerialHex,
  }),
});
export type CertificateInstalledV1 = z.infer<typeof CertificateInstalledV1.schema>;
