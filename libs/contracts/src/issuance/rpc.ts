import { z } from 'zod';
import { defineRpc, type RpcRequest } from '../common/define.js';
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

/**
 * `RequestTemporaryHardwareKeyV1` whose answer also says whether it came from the store: `replayed` is
 * true when the Idempotency-Key was seen (the stored answer, or its `idempotency-conflict`, comes before
 * any check, and nothing starts). It lets the gateway send a body it has validated straight here, without
 * asking `FindHardwareKeyRequestByIdempotencyKey` first, and give back the password rate-limit token it
 * took for a call that turned out to be a replay. Issuance answers both versions.
 */
export const RequestTemporaryHardwareKeyV2 = defineRpc({
  context: 'issuance', name: 'request-temporary-hardware-key', version: 2,
  request: RequestTemporaryHardwareKeyV1.request,
  response: RequestTemporaryHardwareKeyV1.response.extend({ replayed: z.boolean() }),
  errors: RequestTemporaryHardwareKeyV1.errors,
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

/** The algorithm a forming call without `algorithm` asks for (api.md: optional). */
export const defaultKeyAlgorithm = 'EC-P256' as const satisfies z.infer<typeof keyAlgorithm>;

const startFields = RequestTemporaryHardwareKeyV1.request.shape;

/**
 * The body of api.md's `POST /v1/keys/{keyId}/temporary-hardware-keys`, as the client sends it:
 * `RequestTemporaryHardwareKeyV1`'s fields less the ones the gateway adds (user, key, Idempotency-Key),
 * `currentTokenPassword` and `algorithm` optional (absent = `null` and `defaultKeyAlgorithm`).
 * `FindHardwareKeyRequestByIdempotencyKeyV1` judges its `body` by this schema.
 */
export const temporaryHardwareKeyRequestBody = z.strictObject({
  validity: startFields.validity,
  tokenId: startFields.tokenId,
  cloudKeyPassword: startFields.cloudKeyPassword,
  newKeyPassword: startFields.newKeyPassword.describe('compact JWE to Token.agentKey: ECDH-ES, A256GCM'),
  currentTokenPassword: compactJwe.optional().describe('compact JWE; required when the token\'s userPinInitialized'),
  algorithm: keyAlgorithm.optional().describe(`default ${defaultKeyAlgorithm}`),
});
export type TemporaryHardwareKeyRequestBody = z.infer<typeof temporaryHardwareKeyRequestBody>;

/** The start call for a forming body: what the gateway sends, and what a seen key's body is fingerprinted as. */
export function temporaryHardwareKeyStart(
  ids: { userId: string; baseKeyId: string; idempotencyKey: string },
  body: TemporaryHardwareKeyRequestBody,
): RpcRequest<typeof RequestTemporaryHardwareKeyV1> {
  return {
    ...ids,
    validity: body.validity,
    tokenId: body.tokenId,
    cloudKeyPassword: body.cloudKeyPassword,
    newKeyPassword: body.newKeyPassword,
    currentTokenPassword: body.currentTokenPassword ?? null,
    algorithm: body.algorithm ?? defaultKeyAlgorithm,
  };
}

/**
 * Has issuance stored a forming request under this user's Idempotency-Key, and is `body` the same
 * request? Lets any gateway replica answer a key already seen from the store before its own checks
 * (api.md). `body` is the HTTP body as received (any JSON; the gateway sends `null` for one it could
 * not read) and `baseKeyId` the path's key id as given (not necessarily a UUID): a body that fails
 * `temporaryHardwareKeyRequestBody`, or a key id that is not a UUID, is another request than the
 * stored one. The body carries the cloud key password: it is compared in memory (the fingerprint of
 * `RequestTemporaryHardwareKeyV1`, which leaves the password out), never logged nor persisted.
 * Another user's key is `seen: false`, exactly as a key never used.
 */
export const FindHardwareKeyRequestByIdempotencyKeyV1 = defineRpc({
  context: 'issuance', name: 'find-hardware-key-request-by-idempotency-key', version: 1,
  request: z.strictObject({
    userId: uuid,
    idempotencyKey: startFields.idempotencyKey,
    baseKeyId: z.string().max(200),
    body: z.unknown(),
  }),
  response: z.discriminatedUnion('seen', [
    z.strictObject({ seen: z.literal(false) }),
    z.strictObject({ seen: z.literal(true), reply: RequestTemporaryHardwareKeyV1.response }),
  ]),
  errors: ['idempotency-conflict'],
});
