import { z } from 'zod';
import { defineMessage } from '../common/define.js';
import { certificateSummary, derBase64, uuid } from '../common/primitives.js';

export const CertificateIssuedV1 = defineMessage({
  kind: 'event', type: 'CertificateIssued', version: 1,
  subject: 'ca.evt.certificate-issued.v1',
  schema: z.strictObject({
    requestId: uuid,
    certificate: certificateSummary.extend({ der: derBase64 }),
  }),
});
export type CertificateIssuedV1 = z.infer<typeof CertificateIssuedV1.schema>;
