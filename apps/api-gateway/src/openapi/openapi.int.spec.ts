import { startHarness, type Harness } from '../testing/gateway-harness.js';

/** Every route of api.md (the contract other teams build on), written out by hand on purpose. */
const apiMdRoutes: Array<[string, string]> = [
  ['get', '/v1/keys'],
  ['get', '/v1/keys/{keyId}'],
  ['get', '/v1/keys/{keyId}/certificate'],
  ['get', '/v1/tokens'],
  ['get', '/v1/keys/{keyId}/temporary-hardware-keys/preview'],
  ['post', '/v1/keys/{keyId}/temporary-hardware-keys'],
  ['get', '/v1/hardware-key-requests/{requestId}'],
  ['get', '/v1/hardware-key-requests/{requestId}/events'],
  ['get', '/v1/ca/certificate'],
  ['get', '/v1/ca/crl'],
  ['get', '/v1/openapi.json'],
  ['get', '/health/live'],
  ['get', '/health/ready'],
  ['get', '/metrics'],
];
/** Not (yet) in api.md: the CA's certificate and CRL for relying parties, public (the certificates' CRL distribution point). */
const publicPkiRoutes: Array<[string, string]> = [
  ['get', '/pki/ca.crt'],
  ['get', '/pki/crl'],
];

function collectRefs(node: unknown, out: string[] = []): string[] {
  if (Array.isArray(node)) node.forEach((n) => collectRefs(n, out));
  else if (node && typeof node === 'object') {
    for (const [k, v] of Object.entries(node)) {
      if (k === '$ref' && typeof v === 'string') out.push(v);
      else collectRefs(v, out);
    }
  }
  return out;
}

describe('api-gateway: OpenAPI document and operations', () => {
  let h: Harness;
  let doc: any;

  beforeAll(async () => {
    h = await startHarness();
    const res = await h.http({ url: '/v1/openapi.json' });
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toMatch(/^application\/json/);
    doc = res.json();
  });
  afterAll(async () => { await h.close(); });

  describe('GET /v1/openapi.json', () => {
    it('is an OpenAPI 3.1 document served without authentication', () => {
      expect(doc.openapi).toBe('3.1.0');
      expect(doc.info).toMatchObject({ version: '1' });
      expect(doc.components.securitySchemes.bearer).toEqual({ type: 'http', scheme: 'bearer', bearerFormat: 'JWT' });
    });

    it('contains every route of api.md and nothing else but the public PKI routes', () => {
      const documented = Object.entries(doc.paths as Record<string, Record<string, unknown>>).flatMap(([p, ops]) => Object.keys(ops).map((m) => `${m} ${p}`)).sort();
      expect(documented).toEqual([...apiMdRoutes, ...publicPkiRoutes].map(([m, p]) => `${m} ${p}`).sort());
      for (const [m, p] of publicPkiRoutes) expect(doc.paths[p][m].security).toEqual([]);
    });

    it('marks every /v1 route but the document itself as needing a bearer token', () => {
      for (const [method, path] of apiMdRoutes) {
        const op = doc.paths[path][method];
        const needsBearer = path.startsWith('/v1/') && path !== '/v1/openapi.json';
        expect({ path, security: op.security }).toEqual({ path, security: needsBearer ? [{ bearer: [] }] : [] });
        if (needsBearer) expect(op.responses['401']).toBeDefined();
      }
    });

    it('resolves every $ref', () => {
      const refs = collectRefs(doc);
      expect(refs.length).toBeGreaterThan(10);
      for (const ref of refs) {
        expect(ref).toMatch(/^#\/components\/schemas\//);
        expect(doc.components.schemas[ref.split('/').pop()!]).toBeDefined();
      }
    });

    it('describes the forming call as api.md does: Idempotency-Key, strict body, 202 with Location, its refusals', () => {
      const op = doc.paths['/v1/keys/{keyId}/temporary-hardware-keys'].post;
      const idem = op.parameters.find((p: any) => p.name === 'Idempotency-Key');
      expect(idem).toMatchObject({ in: 'header', required: true, schema: { type: 'string', minLength: 1, maxLength: 200 } });
      const body = doc.components.schemas[op.requestBody.content['application/json'].schema.$ref.split('/').pop()];
      expect(body.additionalProperties).toBe(false);
      expect(body.required.sort()).toEqual(['cloudKeyPassword', 'newKeyPassword', 'tokenId', 'validity']);
      expect(body.properties.validity.enum).toEqual(['P1D', 'P1W', 'P1M', 'base']);
      expect(op.responses['202'].headers.Location).toBeDefined();
      const refusals = Object.keys(op.responses).filter((s) => s !== '202').sort();
      expect(refusals).toEqual(['400', '401', '404', '409', '422', '423', '429', '503']);
      expect(op.responses['409'].description).toContain('key-not-eligible');
      expect(op.responses['409'].description).toContain('idempotency-conflict');
      expect(op.responses['422'].content['application/problem+json']).toBeDefined();
    });

    it('describes KeyAccount with the fields of api.md', () => {
      const key = doc.components.schemas.KeyAccount;
      expect(Object.keys(key.properties).sort()).toEqual(['actions', 'baseKeyId', 'certificate', 'createdAt', 'id', 'kind', 'owner', 'status', 'temporary', 'token'].sort());
      expect(key.properties.status.enum).toEqual(['pending', 'active', 'blocked', 'expired', 'revoked', 'failed']);
    });

    it('describes the list query with its bounds and default', () => {
      const limit = doc.paths['/v1/keys'].get.parameters.find((p: any) => p.name === 'limit');
      expect(limit).toMatchObject({ in: 'query', required: false, schema: { type: 'integer', minimum: 1, maximum: 200, default: 50 } });
    });

    it('describes the binary and event-stream answers by their media types', () => {
      expect(Object.keys(doc.paths['/v1/keys/{keyId}/certificate'].get.responses['200'].content)).toEqual(['application/pkix-cert']);
      expect(Object.keys(doc.paths['/v1/ca/crl'].get.responses['200'].content)).toEqual(['application/pkix-crl']);
      const sse = doc.paths['/v1/hardware-key-requests/{requestId}/events'].get;
      expect(sse.responses['200'].content['text/event-stream']['x-event-data']).toEqual({ $ref: '#/components/schemas/ProgressEvent' });
      expect(sse.parameters.find((p: any) => p.name === 'Last-Event-ID')).toMatchObject({ in: 'header', required: false });
    });
  });

  describe('operations', () => {
    it('answers /health/live', async () => {
      const res = await h.http({ url: '/health/live' });
      expect(res.statusCode).toBe(200);
      expect(res.json()).toEqual({ status: 'ok' });
    });

    it('answers /health/ready with NATS and the progress feed up', async () => {
      const res = await h.http({ url: '/health/ready' });
      expect(res.statusCode).toBe(200);
      expect(res.json()).toEqual({ status: 'ok', checks: { 'nats': 'up', 'progress-feed': 'up' } });
    });

    it('answers /metrics in Prometheus text with the request metrics', async () => {
      await h.http({ url: '/v1/keys' });
      const res = await h.http({ url: '/metrics' });
      expect(res.statusCode).toBe(200);
      expect(res.headers['content-type']).toMatch(/^text\/plain/);
      expect(res.body).toMatch(/thk_gateway_http_requests_total\{method="GET",route="\/v1\/keys",status="401"\} \d+/);
      expect(res.body).toContain('thk_gateway_http_request_duration_seconds_bucket');
      expect(res.body).toContain('thk_gateway_sse_streams');
    });

    it('answers /health/ready 503 while NATS is gone', async () => {
      await h.nats.stop();
      try {
        const res = await h.http({ url: '/health/ready' });
        expect(res.statusCode).toBe(503);
        expect(res.json().checks.nats).toMatch(/^down/);
        expect((await h.http({ url: '/health/live' })).statusCode).toBe(200);
      } finally {
        // Back on the same port so that every connection drains normally in afterAll.
        await h.nats.restart?.();
      }
    });
  });
});
