import { z } from 'zod';
import { defineAgentMessage } from '../common/define.js';
import { ckaIdHex, tokenSerial, uuid } from '../common/primitives.js';
import { tokenFailureCode } from './token-failure-codes.js';

export const CertificateInstallFailedV1 = defineAgentMessage({
  kind: 'event', type: 'CertificateInstallFailed', version: 1, name: 'certificate-install-failed',
  schema: z.strictObject({
    requestId: uuid,
    tokenSerial,
    keyId: ckaIdHex,
    code: tokenFailureCode,
    message: z.string().max(1_000),
  }),
});
export type CertificateInstallFailedV1 = z.infer<typeof CertificateInstallFailedV1.schema>;
