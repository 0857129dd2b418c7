import { z } from 'zod';
import { defineRpc } from '../common/define.js';
import { certificateSerialHex, certificateSummary, derBase64, isoDateTime, personSubject, uuid } from '../common/primitives.js';
import { revocationReason } from './revocation-reason.js';

/** Development only: certify a cloud key's CSR with the window asked for (past windows allowed). */
export const CertifyCloudKeyV1 = defineRpc({
  context: 'ca', name: 'certify-cloud-key', version: 1,
  request: z.strictObject({
    userId: uuid,
    keyId: uuid,
    csr: derBase64,
    subject: personSubject,
    notBefore: isoDateTime,
    notAfter: isoDateTime,
  }),
  response: z.strictObject({ certificate: certificateSummary.extend({ der: derBase64 }) }),
  errors: ['csr-invalid', 'not-available', 'validation-failed', 'public-key-reused'],
});

export const GetCaCertificateV1 = defineRpc({
  context: 'ca', name: 'get-ca-certificate', version: 1,
  request: z.strictObject({}),
  response: z.strictObject({ pem: z.string(), chainPem: z.string(), notAfter: isoDateTime }),
});

export const GetCrlV1 = defineRpc({
  context: 'ca', name: 'get-crl', version: 1,
  request: z.strictObject({}),
  response: z.strictObject({ der: derBase64, thisUpdate: isoDateTime, nextUpdate: isoDateTime }),
});

export const GetCertificateStatusV1 = defineRpc({
  context: 'ca', name: 'get-certificate-status', version: 1,
  request: z.strictObject({ serialNumber: certificateSerialHex }),
  response: z.strictObject({
    status: z.enum(['good', 'revoked', 'unknown']),
    revokedAt: isoDateTime.nullable(),
    reason: revocationReason.nullable(),
  }),
});
