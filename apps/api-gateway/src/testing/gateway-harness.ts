import { generateKeyPair, exportSPKI, SignJWT, type CryptoKey } from 'jose';
import { Writable } from 'node:stream';
import { startTestNats, type TestNats } from '@thk/testing';
import { startApiGateway, type RunningApiGateway } from '../api-gateway.app.js';
import { defaultRateLimits, type GatewayConfig } from '../config.js';
import { DownstreamParticipants } from './downstream-participants.js';

export const TEST_ISSUER = 'https://id.test.example';
export const TEST_AUDIENCE = 'thk-cabinet';

export interface IdentityProvider {
  privateKey: CryptoKey;
  publicKeyPem: string;
  /** A token as the cabinet's identity provider issues it; override any claim or header to break it. */
  token(userId: string, override?: { iss?: string; aud?: string; exp?: number; nbf?: number; iat?: number; sub?: unknown; key?: CryptoKey; alg?: string }): Promise<string>;
}

export async function createIdentityProvider(): Promise<IdentityProvider> {
  const { privateKey, publicKey } = await generateKeyPair('ES256', { extractable: true });
  const publicKeyPem = await exportSPKI(publicKey);
  return {
    privateKey,
    publicKeyPem,
    async token(userId, o = {}) {
      const iat = o.iat ?? Math.floor(Date.now() / 1_000);
      const jwt = new SignJWT({ sub: (o.sub ?? userId) as string })
        .setProtectedHeader({ alg: o.alg ?? 'ES256', kid: 'idp-1' })
        .setIssuer(o.iss ?? TEST_ISSUER)
        .setAudience(o.aud ?? TEST_AUDIENCE)
        .setIssuedAt(iat)
        .setExpirationTime(o.exp ?? iat + 600);
      if (o.nbf !== undefined) jwt.setNotBefore(o.nbf);
      return jwt.sign(o.key ?? privateKey);
    },
  };
}

export function testConfig(natsUrl: string, overrides: Partial<Omit<GatewayConfig, 'auth'>> & { auth?: Partial<GatewayConfig['auth']> } = {}): GatewayConfig {
  const { auth, ...rest } = overrides;
  return {
    http: { port: 0, host: '127.0.0.1', bodyLimitBytes: 64 * 1024, trustProxy: false },
    nats: { servers: natsUrl, name: 'api-gateway-test' },
    streamReplicas: 1,
    auth: {
      mode: 'jwt', issuer: TEST_ISSUER, audience: TEST_AUDIENCE, jwksUrl: null, publicKeyPem: null,
      algorithms: ['ES256', 'RS256'], userClaim: 'sub', clockToleranceSeconds: 5, devSecret: null, devTokenTtlSeconds: 3_600,
      ...auth,
    },
    // Far above a played participant's answer (~1 ms), yet short enough for the 503 tests: a full CI run on two
    // cores once kept a played answer from this process past a 1 s timeout.
    rpc: { timeoutMs: 3_000, formingTimeoutMs: 5_000 },
    rateLimit: defaultRateLimits,
    progress: { bufferedRequests: 1_000, heartbeatMs: 15_000, maxStreamMs: 60_000 },
    cabinetDir: null,
    ...rest,
  };
}

/** Collects the gateway's log lines (JSON) in memory. */
export class LogCapture extends Writable {
  readonly lines: string[] = [];
  override _write(chunk: Buffer, _enc: BufferEncoding, done: () => void): void {
    this.lines.push(...chunk.toString('utf8').split('\n').filter(Boolean));
    done();
  }
  get text(): string { return this.lines.join('\n'); }
  entries(): Array<Record<string, unknown>> { return this.lines.map((l) => JSON.parse(l) as Record<string, unknown>); }
}

export interface HttpResponse {
  statusCode: number;
  headers: Record<string, string>;
  rawPayload: Buffer;
  body: string;
  json(): any;
}

export interface HttpRequest {
  method?: string;
  url: string;
  headers?: Record<string, string>;
  /** An object is sent as JSON; a string as is. */
  payload?: unknown;
}

/** A real HTTP call (light-my-request's inject cannot load its ESM-only dependency under jest). */
export async function httpCall(baseUrl: string, req: HttpRequest): Promise<HttpResponse> {
  const headers: Record<string, string> = { ...(req.headers ?? {}) };
  let body: string | undefined;
  if (req.payload !== undefined) {
    if (typeof req.payload === 'string') body = req.payload;
    else {
      body = JSON.stringify(req.payload);
      if (!Object.keys(headers).some((h) => h.toLowerCase() === 'content-type')) headers['content-type'] = 'application/json';
    }
  }
  const res = await fetch(`${baseUrl}${req.url}`, { method: req.method ?? 'GET', headers, ...(body !== undefined ? { body } : {}) });
  const rawPayload = Buffer.from(await res.arrayBuffer());
  const text = rawPayload.toString('utf8');
  return {
    statusCode: res.status,
    headers: Object.fromEntries(res.headers.entries()),
    rawPayload,
    body: text,
    json: () => JSON.parse(text),
  };
}

export interface Harness {
  /** Calls the gateway over HTTP. */
  http(req: HttpRequest): Promise<HttpResponse>;
  nats: TestNats;
  participants: DownstreamParticipants;
  idp: IdentityProvider;
  gateway: RunningApiGateway;
  logs: LogCapture;
  close(): Promise<void>;
}

/** A private NATS, the downstream services played by test participants, and a gateway in front. */
export async function startHarness(configure: (natsUrl: string, idp: IdentityProvider) => GatewayConfig = (url, idp) => testConfig(url, { auth: { publicKeyPem: idp.publicKeyPem } }), options: { now?: () => Date; logLevel?: string } = {}): Promise<Harness> {
  const nats = await startTestNats();
  const participants = await DownstreamParticipants.start(nats.url);
  const idp = await createIdentityProvider();
  const logs = new LogCapture();
  const gateway = await startApiGateway(configure(nats.url, idp), { logDestination: logs, logLevel: options.logLevel ?? 'info', ...(options.now ? { now: options.now } : {}) });
  return {
    // A participant answered, silenced or removed just before must be in place at the server first.
    http: async (req) => { await participants.settled(); return httpCall(gateway.url, req); },
    nats, participants, idp, gateway, logs,
    async close() {
      await gateway.close();
      await participants.close();
      await nats.stop();
    },
  };
}

/** Asserts an RFC 9457 answer with api.md's code and its status; returns the body. */
export function expectProblem(res: HttpResponse, status: number, code: string): Record<string, unknown> {
  expect({ status: res.statusCode, contentType: res.headers['content-type']?.split(';')[0] }).toEqual({ status, contentType: 'application/problem+json' });
  const body = res.json() as Record<string, unknown>;
  expect(body).toMatchObject({ type: `urn:thk:problem:${code}`, status, code });
  expect(typeof body['title']).toBe('string');
  expect(typeof body['detail']).toBe('string');
  return body;
}
