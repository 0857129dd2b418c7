import { z } from 'zod';
import { defineAgentMessage } from '../common/define.js';
import { ckaIdHex, derBase64, tokenSerial, uuid } from '../common/primitives.js';

export const InstallCertificateV1 = defineAgentMessage({
  kind: 'command', type: 'InstallCertificate', version: 1, name: 'install-certificate',
  schema: z.strictObject({
    requestId: uuid,
    tokenSerial,
    keyId: ckaIdHex,
    certificate: derBase64,
  }),
});
export type InstallCertificateV1 = z.infer<typeof InstallCertificateV1.schema>;
