import { z } from 'zod';
import { defineRpc } from '../common/define.js';
import { cappedBy, compactJwe, isoDateTime, keyAlgorithm, uuid, validityOption } from '../common/primitives.js';
import { hardwareKeyFailureCode, hardwareKeyRequestStatus } from './failure-codes.js';

export const PreviewValidityV1 = defineRpc({
  context: 'issuance', name: 'preview-validity', version: 1,
  request: z.strictObject({ userId: uuid, keyId: uuid, validity: validityOption }),
  response: z.strictObject({ notBefore: isoDateTime, notAfter: isoDateTime, capped: z.boolean(), cappedBy }),
  errors: ['not-found', 'key-not-eligible', 'base-certificate-expiring', 'issuer-certificate-expiring', 'validation-failed'],
});

export const RequestTemporaryHardwareKeyV1 = defineRpc({
  context: 'issuance', name: 'request-temporary-hardware-key', version: 1,
  request: z.strictObject({
    userId: uuid,
    baseKeyId: uuid,
    idempotencyKey: z.string().min(1).max(200),
    validity: validityOption,
    tokenId: z.string().min(1).max(200),
    cloudKeyPassword: z.string().min(1).max(256),
    newKeyPassword: compactJwe,
    currentTokenPassword: compactJwe.nullable(),
    algorithm: keyAlgorithm,
  }),
  response: z.strictObject({
    requestId: uuid,
    status: hardwareKeyRequestStatus,
    validity: z.strictObject({ notBefore: isoDateTime, notAfter: isoDateTime, capped: z.boolean() }),
  }),
  errors: [
    'idempotency-conflict', 'not-found', 'key-not-eligible', 'key-access-blocked', 'wrong-password',
    'token-unavailable', 'current-token-password-required', 'base-certificate-expiring', 'issuer-certificate-expiring',
    'algorithm-unsupported', 'busy',
  ],
});

export const hardwareKeyRequestView = z.strictObject({
  requestId: uuid,
  baseKeyId: uuid,
  status: hardwareKeyRequestStatus,
  steps: z.array(z.strictObject({ state: hardwareKeyRequestStatus, at: isoDateTime })),
  validity: z.strictObject({ notBefore: isoDateTime.optional(), notAfter: isoDateTime, capped: z.boolean() }),
  keyId: uuid.nullable(),
  failure: z.strictObject({ code: hardwareKeyFailureCode, detail: z.string() }).nullable(),
});
export type HardwareKeyRequestView = z.infer<typeof hardwareKeyRequestView>;

export const GetHardwareKeyRequestV1 = defineRpc({
  context: 'issuance', name: 'get-hardware-key-request', version: 1,
  request: z.strictObject({ userId: uuid, requestId: uuid }),
  response: hardwareKeyRequestView,
  errors: ['not-found'],
});
