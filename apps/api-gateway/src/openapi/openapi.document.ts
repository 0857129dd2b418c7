import { z } from 'zod';
import { keyAccount, tokenView } from '@thk/contracts';
import {
  devSession, devSessionBody, devUserBody, devUserCreated, formAccepted, formTemporaryHardwareKeyBody, hardwareKeyRequest, keyPage,
  liveness, problemSchema, progressEvent, readiness, tokenList, validityPreview, type RouteSpec,
} from '../http/api-routes.js';
import { problemCodes, PROBLEM_CONTENT_TYPE, type ProblemCode } from '../http/problem.js';

type Json = Record<string, unknown>;

/** Schemas that get a name under `components.schemas` (and are referenced wherever they appear). */
const named: Array<[z.ZodType, string]> = [
  [keyAccount, 'KeyAccount'], [keyPage, 'KeyPage'], [tokenView, 'Token'], [tokenList, 'TokenList'],
  [validityPreview, 'ValidityPreview'], [formTemporaryHardwareKeyBody, 'FormTemporaryHardwareKeyRequest'], [formAccepted, 'FormAccepted'],
  [hardwareKeyRequest, 'HardwareKeyRequest'], [progressEvent, 'ProgressEvent'], [problemSchema, 'Problem'],
  [devSessionBody, 'DevSessionRequest'], [devSession, 'DevSession'], [devUserBody, 'DevUserRequest'], [devUserCreated, 'DevUserCreated'],
  [liveness, 'Liveness'], [readiness, 'Readiness'],
];

const ref = (id: string): Json => ({ $ref: `#/components/schemas/${id}` });

function strip(schema: Json): Json {
  const { $schema: _s, $id: _i, ...rest } = schema;
  return rest;
}

function inline(schema: z.ZodType, io: 'input' | 'output'): Json {
  return strip(z.toJSONSchema(schema, { target: 'draft-2020-12', io, unrepresentable: 'any' }) as Json);
}

/**
 * The OpenAPI 3.1 document of the routes served, generated from the zod schemas that validate
 * them (JSON Schema 2020-12 is OpenAPI 3.1's dialect).
 */
export function buildOpenApiDocument(routes: readonly RouteSpec[], options: { devMode: boolean }): Json {
  const registry = z.registry<{ id: string }>();
  const ids = new Map<z.ZodType, string>();
  for (const [schema, id] of named) {
    registry.add(schema, { id });
    ids.set(schema, id);
  }
  const converted = z.toJSONSchema(registry, { target: 'draft-2020-12', io: 'output', unrepresentable: 'any', uri: (id) => `#/components/schemas/${id}` }) as { schemas: Record<string, Json> };
  const schemas: Record<string, Json> = {};
  for (const [id, s] of Object.entries(converted.schemas)) schemas[id] = strip(s);
  const schemaOf = (schema: z.ZodType, io: 'input' | 'output'): Json => {
    const id = ids.get(schema);
    return id ? ref(id) : inline(schema, io);
  };

  const paths: Record<string, Record<string, Json>> = {};
  for (const route of routes) {
    const parameters: Json[] = [];
    for (const [name, schema] of Object.entries(route.params?.shape ?? {})) {
      parameters.push({ name, in: 'path', required: true, schema: inline(schema as z.ZodType, 'input') });
    }
    for (const [name, schema] of Object.entries(route.query?.shape ?? {})) {
      const s = schema as z.ZodType;
      parameters.push({ name, in: 'query', required: !s.safeParse(undefined).success, schema: inline(s, 'input') });
    }
    for (const [name, h] of Object.entries(route.headers ?? {})) {
      parameters.push({ name, in: 'header', required: h.required, description: h.description, schema: inline(h.schema, 'input') });
    }
    const responses: Record<string, Json> = {};
    for (const [status, r] of Object.entries(route.responses)) {
      const contentType = r.contentType ?? 'application/json';
      const body: Json = contentType === 'application/json' && r.schema
        ? { schema: schemaOf(r.schema, 'output') }
        : contentType === 'text/event-stream'
          ? { schema: { type: 'string' }, ...(r.schema ? { 'x-event-data': schemaOf(r.schema, 'output') } : {}) }
          : { schema: { type: 'string', ...(/pkix|octet/.test(contentType) ? { contentMediaType: contentType, contentEncoding: 'binary' } : {}) } };
      responses[status] = {
        description: r.description,
        content: { [contentType]: body },
        ...(r.headers ? { headers: Object.fromEntries(Object.entries(r.headers).map(([h, d]) => [h, { description: d, schema: { type: 'string' } }])) } : {}),
      };
    }
    const byStatus = new Map<number, ProblemCode[]>();
    for (const code of route.errors) {
      const status = problemCodes[code].status;
      byStatus.set(status, [...(byStatus.get(status) ?? []), code]);
    }
    for (const [status, codes] of byStatus) {
      responses[String(status)] = {
        description: `RFC 9457 problem; code: ${codes.join(' | ')}`,
        content: { [PROBLEM_CONTENT_TYPE]: { schema: ref('Problem') } },
        ...(status === 429 || status === 503 ? { headers: { 'Retry-After': { description: 'seconds', schema: { type: 'integer' } } } } : {}),
      };
    }
    (paths[route.path] ??= {})[route.method.toLowerCase()] = {
      operationId: route.operationId,
      summary: route.summary,
      tags: [route.tag],
      security: route.auth === 'bearer' ? [{ bearer: [] }] : [],
      ...(parameters.length ? { parameters } : {}),
      ...(route.body ? { requestBody: { required: true, content: { 'application/json': { schema: schemaOf(route.body, 'input') } } } } : {}),
      responses,
    };
  }

  return {
    openapi: '3.1.0',
    info: {
      title: 'Cabinet HTTP API (api-gateway)',
      version: '1',
      description: `The cabinet's HTTP contract (docs/api.md), generated from the gateway's validation schemas.${options.devMode ? ' Development mode: the /v1/dev routes exist.' : ''}`,
    },
    paths,
    components: {
      schemas,
      securitySchemes: { bearer: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT' } },
    },
  };
}
