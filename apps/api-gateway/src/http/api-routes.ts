import { z } from 'zod';
import {
  CreateDevUserV1, hardwareKeyFailureCode, hardwareKeyRequestStatus, hardwareKeyRequestView, isoDateTime,
  keyAccount, PreviewValidityV1, temporaryHardwareKeyRequestBody, tokenView, uuid, validityOption,
} from '@thk/contracts';
import type { ProblemCode } from './problem.js';

/*
 * The HTTP contract of api.md as code. The controllers validate with these schemas and the
 * OpenAPI document is generated from them, so the document cannot drift from what runs; the
 * application checks at start that every route it serves is listed here and vice versa.
 */

// ---- shared pieces -------------------------------------------------------------------------

export const problemSchema = z.object({
  type: z.string(),
  title: z.string(),
  status: z.number().int(),
  detail: z.string(),
  code: z.string().describe('stable code of api.md, e.g. wrong-password'),
  instance: z.string().optional(),
  remainingAttempts: z.number().int().min(0).optional().describe('wrong-password: how many more wrong passwords lock the key'),
});

export const keyIdParams = z.strictObject({ keyId: uuid });
export const requestIdParams = z.strictObject({ requestId: uuid });

// ---- keys ----------------------------------------------------------------------------------

export const listKeysQuery = z.strictObject({
  limit: z.coerce.number().int().min(1).max(200).default(50),
  cursor: z.string().min(1).max(512).optional(),
});
export const keyPage = z.strictObject({ items: z.array(keyAccount), nextCursor: z.string().nullable() });

// ---- tokens --------------------------------------------------------------------------------

export const tokenList = z.strictObject({ items: z.array(tokenView) });

// ---- forming a temporary hardware key ------------------------------------------------------

export const previewQuery = z.strictObject({ validity: validityOption });
export const validityPreview = PreviewValidityV1.response;

export const idempotencyKeyHeader = z.string().min(1).max(200);

/** The forming body is the contract's: the gateway validates it exactly as issuance judges a seen key's body. */
export const formTemporaryHardwareKeyBody = temporaryHardwareKeyRequestBody;

export const formAccepted = z.strictObject({
  requestId: uuid,
  status: hardwareKeyRequestStatus,
  validity: z.strictObject({ notAfter: isoDateTime, capped: z.boolean() }),
});

export const hardwareKeyRequest = hardwareKeyRequestView;

/** One Server-Sent Event's `data` (its `id` is `sequence`). */
export const progressEvent = z.strictObject({
  requestId: uuid,
  sequence: z.number().int().positive(),
  status: hardwareKeyRequestStatus,
  at: isoDateTime,
  keyId: uuid.nullable(),
  failure: z.strictObject({ code: hardwareKeyFailureCode, detail: z.string() }).nullable(),
});
export type ProgressEvent = z.infer<typeof progressEvent>;

export const lastEventIdHeader = z.string().regex(/^\d{1,9}$/, 'Last-Event-ID: the id of the last event received');

// ---- development mode ----------------------------------------------------------------------

const devUserFields = CreateDevUserV1.request.shape;
export const devSessionBody = z.strictObject({ rnokpp: z.string().regex(/^\d{10}$/, 'РНОКПП: 10 digits') });
export const devSession = z.strictObject({ accessToken: z.string(), expiresAt: isoDateTime });
export const devUserBody = z.strictObject({
  fullName: devUserFields.fullName,
  rnokpp: devUserFields.rnokpp,
  organization: z.string().min(1).max(256).nullish(),
  edrpou: z.string().regex(/^\d{8}$/, 'ЄДРПОУ: 8 digits').nullish(),
  position: z.string().min(1).max(128).nullish(),
  cloudKeyPassword: z.string().min(1).max(256),
  certificate: z.strictObject({ notBefore: isoDateTime, notAfter: isoDateTime }).nullish(),
});
export const devUserCreated = z.strictObject({ userId: uuid, keyId: uuid });

// ---- operations ----------------------------------------------------------------------------

export const liveness = z.object({ status: z.literal('ok') });
export const readiness = z.object({ status: z.string(), checks: z.record(z.string(), z.string()) });

// ---- the route table -----------------------------------------------------------------------

export interface ResponseSpec {
  description: string;
  /** JSON body schema; absent for non-JSON bodies (see `contentType`). */
  schema?: z.ZodType;
  contentType?: string;
  headers?: Record<string, string>;
}

export interface RouteSpec {
  operationId: string;
  method: 'GET' | 'POST';
  /** OpenAPI form: `/v1/keys/{keyId}`. */
  path: string;
  summary: string;
  tag: 'keys' | 'tokens' | 'hardware-key-requests' | 'ca' | 'dev' | 'operations';
  auth: 'bearer' | 'none';
  /** Exists only when AUTH_MODE=dev. */
  devOnly?: boolean;
  params?: z.ZodObject;
  query?: z.ZodObject;
  headers?: Record<string, { schema: z.ZodType; required: boolean; description: string }>;
  body?: z.ZodType;
  responses: Record<number, ResponseSpec>;
  /** Refusals this route answers, in the order they are checked. */
  errors: ProblemCode[];
}

const formingErrors: ProblemCode[] = [
  'unauthenticated', 'validation-failed', 'rate-limited', 'not-found', 'idempotency-conflict', 'key-not-eligible', 'key-access-blocked',
  'wrong-password', 'token-unavailable', 'current-token-password-required', 'base-certificate-expiring', 'algorithm-unsupported',
  'service-unavailable',
];

export const apiRoutes: readonly RouteSpec[] = [
  {
    operationId: 'listKeys', method: 'GET', path: '/v1/keys', tag: 'keys', auth: 'bearer',
    summary: 'The user\'s key accounts, newest first (keyset pagination).',
    query: listKeysQuery,
    responses: { 200: { description: 'one page of keys', schema: keyPage } },
    errors: ['unauthenticated', 'validation-failed', 'service-unavailable'],
  },
  {
    operationId: 'getKey', method: 'GET', path: '/v1/keys/{keyId}', tag: 'keys', auth: 'bearer',
    summary: 'One key account of the user.',
    params: keyIdParams,
    responses: { 200: { description: 'the key account', schema: keyAccount } },
    errors: ['unauthenticated', 'not-found', 'service-unavailable'],
  },
  {
    operationId: 'getKeyCertificate', method: 'GET', path: '/v1/keys/{keyId}/certificate', tag: 'keys', auth: 'bearer',
    summary: 'The key\'s current certificate (DER).',
    params: keyIdParams,
    responses: { 200: { description: 'DER X.509 certificate', contentType: 'application/pkix-cert' } },
    errors: ['unauthenticated', 'not-found', 'service-unavailable'],
  },
  {
    operationId: 'previewTemporaryHardwareKey', method: 'GET', path: '/v1/keys/{keyId}/temporary-hardware-keys/preview', tag: 'keys', auth: 'bearer',
    summary: 'The validity a temporary hardware key would get (what the dialog shows before confirming).',
    params: keyIdParams, query: previewQuery,
    responses: { 200: { description: 'the resulting validity', schema: validityPreview } },
    errors: ['unauthenticated', 'validation-failed', 'not-found', 'key-not-eligible', 'base-certificate-expiring', 'service-unavailable'],
  },
  {
    operationId: 'formTemporaryHardwareKey', method: 'POST', path: '/v1/keys/{keyId}/temporary-hardware-keys', tag: 'keys', auth: 'bearer',
    summary: 'Forms a temporary hardware key on the user\'s token from this cloud key (starts the saga).',
    params: keyIdParams,
    headers: { 'Idempotency-Key': { schema: idempotencyKeyHeader, required: true, description: 'the same key with the same body answers the same request' } },
    body: formTemporaryHardwareKeyBody,
    responses: {
      202: { description: 'the request was accepted', schema: formAccepted, headers: { Location: '/v1/hardware-key-requests/{requestId}' } },
    },
    errors: formingErrors,
  },
  {
    operationId: 'listTokens', method: 'GET', path: '/v1/tokens', tag: 'tokens', auth: 'bearer',
    summary: 'The tokens that the user\'s online agents see now.',
    responses: { 200: { description: 'tokens', schema: tokenList } },
    errors: ['unauthenticated', 'service-unavailable'],
  },
  {
    operationId: 'getHardwareKeyRequest', method: 'GET', path: '/v1/hardware-key-requests/{requestId}', tag: 'hardware-key-requests', auth: 'bearer',
    summary: 'A request to form a temporary hardware key: status, steps, validity, the new key, the failure.',
    params: requestIdParams,
    responses: { 200: { description: 'the request', schema: hardwareKeyRequest } },
    errors: ['unauthenticated', 'not-found', 'service-unavailable'],
  },
  {
    operationId: 'streamHardwareKeyRequestEvents', method: 'GET', path: '/v1/hardware-key-requests/{requestId}/events', tag: 'hardware-key-requests', auth: 'bearer',
    summary: 'Server-Sent Events: one event per state change (id = sequence, data = ProgressEvent); closes after completed or failed.',
    params: requestIdParams,
    headers: { 'Last-Event-ID': { schema: lastEventIdHeader, required: false, description: 'resume after this event' } },
    responses: { 200: { description: 'text/event-stream of ProgressEvent (JSON in each event\'s data)', contentType: 'text/event-stream', schema: progressEvent } },
    errors: ['unauthenticated', 'validation-failed', 'not-found', 'service-unavailable'],
  },
  {
    operationId: 'getCaCertificate', method: 'GET', path: '/v1/ca/certificate', tag: 'ca', auth: 'bearer',
    summary: 'The issuing CA certificate (PEM).',
    responses: { 200: { description: 'PEM certificate', contentType: 'application/x-pem-file' } },
    errors: ['unauthenticated', 'service-unavailable'],
  },
  {
    operationId: 'getCrl', method: 'GET', path: '/v1/ca/crl', tag: 'ca', auth: 'bearer',
    summary: 'The current CRL of the issuing CA (DER).',
    responses: { 200: { description: 'DER CRL', contentType: 'application/pkix-crl' } },
    errors: ['unauthenticated', 'service-unavailable'],
  },
  {
    operationId: 'getPublicCaCertificate', method: 'GET', path: '/pki/ca.crt', tag: 'ca', auth: 'none',
    summary: 'The issuing CA certificate (DER) for relying parties, without authentication.',
    responses: { 200: { description: 'DER X.509 certificate', contentType: 'application/pkix-cert' } },
    errors: ['service-unavailable'],
  },
  {
    operationId: 'getPublicCrl', method: 'GET', path: '/pki/crl', tag: 'ca', auth: 'none',
    summary: 'The current CRL (DER) for relying parties, without authentication: the certificates\' CRL distribution point.',
    responses: { 200: { description: 'DER CRL', contentType: 'application/pkix-crl' } },
    errors: ['service-unavailable'],
  },
  {
    operationId: 'createDevSession', method: 'POST', path: '/v1/dev/session', tag: 'dev', auth: 'none', devOnly: true,
    summary: 'Development mode only: a bearer token for the user with this РНОКПП.',
    body: devSessionBody,
    responses: { 200: { description: 'an access token', schema: devSession } },
    errors: ['validation-failed', 'not-found', 'service-unavailable'],
  },
  {
    operationId: 'createDevUser', method: 'POST', path: '/v1/dev/users', tag: 'dev', auth: 'none', devOnly: true,
    summary: 'Development mode only: a user with an active cloud key certified by the built-in CA.',
    body: devUserBody,
    responses: { 201: { description: 'the user and their cloud key', schema: devUserCreated } },
    errors: ['validation-failed', 'rate-limited', 'conflict', 'service-unavailable'],
  },
  {
    operationId: 'getOpenApiDocument', method: 'GET', path: '/v1/openapi.json', tag: 'operations', auth: 'none',
    summary: 'This document.',
    responses: { 200: { description: 'OpenAPI 3.1 document', contentType: 'application/json' } },
    errors: [],
  },
  {
    operationId: 'live', method: 'GET', path: '/health/live', tag: 'operations', auth: 'none',
    summary: 'Liveness.', responses: { 200: { description: 'alive', schema: liveness } }, errors: [],
  },
  {
    operationId: 'ready', method: 'GET', path: '/health/ready', tag: 'operations', auth: 'none',
    summary: 'Readiness (NATS connected, progress feed consuming).',
    responses: { 200: { description: 'ready', schema: readiness }, 503: { description: 'not ready', schema: readiness } }, errors: [],
  },
  {
    operationId: 'metrics', method: 'GET', path: '/metrics', tag: 'operations', auth: 'none',
    summary: 'Prometheus metrics.', responses: { 200: { description: 'Prometheus text format', contentType: 'text/plain' } }, errors: [],
  },
];

/** The routes served in a mode. */
export function routesFor(mode: 'jwt' | 'dev'): RouteSpec[] {
  return apiRoutes.filter((r) => !r.devOnly || mode === 'dev');
}

/** `/v1/keys/{keyId}` → `/v1/keys/:keyId` (how Fastify names the route). */
export function fastifyPath(openApiPath: string): string {
  return openApiPath.replace(/\{([^}]+)\}/g, ':$1');
}

export const routeKey = (method: string, fastifyUrl: string) => `${method.toUpperCase()} ${fastifyUrl}`;
