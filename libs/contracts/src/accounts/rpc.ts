import { z } from 'zod';
import { defineRpc } from '../common/define.js';
import { agentId, compactJws, derBase64, isoDateTime, owner, personSubject, tokenSerial, uuid, validityOption } from '../common/primitives.js';
import { keyAccount, keyStatus, tokenView } from './key-account.js';

/** A password travels only over this request/reply, in memory: never into a stream, a table or a log. */
const password = z.string().min(1).max(256);

/**
 * The authorization that `AuthorizeTemporaryKeyV1` answers: a compact JWS, protected header
 * `{ alg: 'ES256', typ: 'thk-authorization+jwt', x5c: [<base certificate DER, base64>] }` (explicit typing,
 * RFC 8725 §3.11, so it cannot pass for another kind of JWT), signed by the cloud key
 * of that certificate, whose payload is exactly these claims. The CA gateway verifies them before
 * it issues anything: `jti` = the request id (once only), `tokenSerial` = the CSR's token,
 * the window ends no later than `notAfterCap`, and `exp` has not passed.
 */
export const TEMPORARY_KEY_AUTHORIZATION_MAX_TTL_SECONDS = 600;
export const TEMPORARY_KEY_AUTHORIZATION_TYP = 'thk-authorization+jwt';
export const temporaryKeyAuthorizationHeader = z.object({
  alg: z.literal('ES256'),
  typ: z.literal(TEMPORARY_KEY_AUTHORIZATION_TYP),
  x5c: z.array(derBase64).min(1).max(4),
});
export const temporaryKeyAuthorizationClaims = z.strictObject({
  /** The user (cabinet subject) who asked. */
  sub: uuid,
  /** The hardware key request id; the CA accepts each once. */
  jti: uuid,
  baseKeyId: uuid,
  tokenSerial,
  validity: validityOption,
  /** The base certificate's notAfter (ISO 8601 UTC): no temporary certificate may outlive it. */
  notAfterCap: isoDateTime,
  /** Seconds since the epoch. */
  iat: z.number().int().positive(),
  exp: z.number().int().positive(),
}).refine((c) => c.exp > c.iat && c.exp - c.iat <= TEMPORARY_KEY_AUTHORIZATION_MAX_TTL_SECONDS, {
  message: `exp must follow iat by at most ${TEMPORARY_KEY_AUTHORIZATION_MAX_TTL_SECONDS} s`, path: ['exp'],
});
export type TemporaryKeyAuthorizationClaims = z.infer<typeof temporaryKeyAuthorizationClaims>;

export const AuthorizeTemporaryKeyV1 = defineRpc({
  context: 'accounts', name: 'authorize-temporary-key', version: 1,
  request: z.strictObject({
    userId: uuid,
    baseKeyId: uuid,
    password,
    requestId: uuid,
    validity: validityOption,
    tokenSerial,
  }),
  response: z.strictObject({
    /** Compact JWS (ES256) signed by the cloud key, `x5c` = base certificate. */
    authorization: compactJws,
    expiresAt: isoDateTime,
    owner,
    subject: personSubject,
    baseCertificate: z.strictObject({
      serialNumber: z.string(),
      notBefore: isoDateTime,
      notAfter: isoDateTime,
      der: derBase64,
    }),
  }),
  errors: ['not-found', 'key-not-eligible', 'key-access-blocked', 'wrong-password', 'busy'],
});

export const ListKeysV1 = defineRpc({
  context: 'accounts', name: 'list-keys', version: 1,
  request: z.strictObject({
    userId: uuid,
    limit: z.number().int().min(1).max(200),
    cursor: z.string().max(512).nullable(),
  }),
  response: z.strictObject({ items: z.array(keyAccount), nextCursor: z.string().nullable() }),
  errors: ['validation-failed'],
});

export const GetKeyV1 = defineRpc({
  context: 'accounts', name: 'get-key', version: 1,
  request: z.strictObject({ userId: uuid, keyId: uuid }),
  response: z.strictObject({
    key: keyAccount,
    /** The base certificate's status as the registry knows it (for the validity policy). */
    certificateRevoked: z.boolean(),
  }),
  errors: ['not-found'],
});

export const GetKeyCertificateV1 = defineRpc({
  context: 'accounts', name: 'get-key-certificate', version: 1,
  request: z.strictObject({ userId: uuid, keyId: uuid }),
  response: z.strictObject({ der: derBase64 }),
  errors: ['not-found'],
});

export const ListTokensV1 = defineRpc({
  context: 'accounts', name: 'list-tokens', version: 1,
  request: z.strictObject({ userId: uuid }),
  response: z.strictObject({ items: z.array(tokenView) }),
});

/** The token must belong to the user and its agent be online; otherwise `token-unavailable`. */
export const GetUserTokenV1 = defineRpc({
  context: 'accounts', name: 'get-user-token', version: 1,
  request: z.strictObject({ userId: uuid, tokenId: z.string().min(1).max(200) }),
  response: z.strictObject({ token: tokenView }),
  errors: ['token-unavailable'],
});

export const RegisterAgentV1 = defineRpc({
  context: 'accounts', name: 'register-agent', version: 1,
  request: z.strictObject({ agentId, userId: uuid }),
  response: z.strictObject({ agentId, userId: uuid, registeredAt: isoDateTime }),
  errors: ['not-found', 'conflict'],
});

export const UnblockKeyAccessV1 = defineRpc({
  context: 'accounts', name: 'unblock-key-access', version: 1,
  request: z.strictObject({ keyId: uuid, operator: z.string().min(1).max(100) }),
  response: z.strictObject({ keyId: uuid, unblocked: z.boolean() }),
  errors: ['not-found'],
});

/**
 * Operator command: block a key (its status becomes `blocked`, with the reason). Temporary keys
 * formed from it follow. Blocking an already blocked key changes nothing.
 */
export const BlockKeyV1 = defineRpc({
  context: 'accounts', name: 'block-key', version: 1,
  request: z.strictObject({ keyId: uuid, operator: z.string().min(1).max(100), reason: z.string().min(1).max(200) }),
  response: z.strictObject({ keyId: uuid, status: keyStatus, changed: z.boolean() }),
  errors: ['not-found', 'key-not-eligible'],
});

/** Development mode only. */
export const CreateDevUserV1 = defineRpc({
  context: 'accounts', name: 'create-dev-user', version: 1,
  request: z.strictObject({
    fullName: z.string().min(1).max(256),
    rnokpp: z.string().regex(/^\d{10}$/, 'РНОКПП: 10 digits'),
    organization: z.string().min(1).max(256).nullable(),
    edrpou: z.string().regex(/^\d{8}$/, 'ЄДРПОУ: 8 digits').nullable(),
    position: z.string().min(1).max(128).nullable(),
    cloudKeyPassword: password,
    certificate: z.strictObject({ notBefore: isoDateTime, notAfter: isoDateTime }).nullable(),
  }),
  response: z.strictObject({ userId: uuid, keyId: uuid }),
  errors: ['validation-failed', 'conflict', 'not-available'],
});

/** Development mode only: the user behind a dev session. */
export const FindDevUserV1 = defineRpc({
  context: 'accounts', name: 'find-dev-user', version: 1,
  request: z.strictObject({ rnokpp: z.string().regex(/^\d{10}$/) }),
  response: z.strictObject({ userId: uuid }),
  errors: ['not-found', 'not-available'],
});
