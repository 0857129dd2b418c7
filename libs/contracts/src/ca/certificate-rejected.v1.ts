import { z } from 'zod';
import { defineMessage } from '../common/define.js';
import { uuid } from '../common/primitives.js';

export const certificateRejectionCode = z.enum([
  'csr-invalid',
  'authorization-invalid',
  'authorization-expired',
  'authorization-replayed',
  'base-certificate-untrusted',
  'base-certificate-revoked',
  'base-certificate-expired',
  'token-mismatch',
  'window-exceeds-cap',
  'public-key-reused',
  'request-conflict',
  'profile-violation',
]);
export type CertificateRejectionCode = z.infer<typeof certificateRejectionCode>;

export const CertificateRejectedV1 = defineMessage({
  kind: 'event', type: 'CertificateRejected', version: 1,
  subject: 'ca.evt.certificate-rejected.v1',
  schema: z.strictObject({
    requestId: uuid,
    code: certificateRejectionCode,
    message: z.string().max(1_000),
  }),
});
export type CertificateRejectedV1 = z.infer<typeof CertificateRejectedV1.schema>;
