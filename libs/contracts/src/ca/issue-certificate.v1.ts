import { z } from 'zod';
import { defineMessage } from '../common/define.js';
import { compactJws, derBase64, isoDateTime, keyAlgorithm, keyEvidence, tokenSerial, uuid } from '../common/primitives.js';

/**
 * The saga asks the CA for the temporary key's certificate. `authorization` is the JWS that the
 * depository signed with the base (cloud) key: the CA checks it independently of the saga.
 */
export const IssueCertificateV1 = defineMessage({
  kind: 'command', type: 'IssueCertificate', version: 1,
  subject: 'ca.cmd.issue-certificate.v1',
  schema: z.strictObject({
    requestId: uuid,
    profile: z.literal('temporary-hardware-key'),
    csr: derBase64,
    authorization: compactJws,
    tokenSerial,
    algorithm: keyAlgorithm,
    notBefore: isoDateTime,
    notAfter: isoDateTime,
    evidence: keyEvidence,
  }),
});
export type IssueCertificateV1 = z.infer<typeof IssueCertificateV1.schema>;
