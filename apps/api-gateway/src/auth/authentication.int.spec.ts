import { randomUUID } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { exportJWK, generateKeyPair, SignJWT, UnsecuredJWT } from 'jose';
import { CreateDevUserV1, FindDevUserV1, ListTokensV1 } from '@thk/contracts';
import { AppError } from '@thk/core';
import { startApiGateway, type RunningApiGateway } from '../api-gateway.app.js';
import { expectProblem, httpCall, startHarness, TEST_AUDIENCE, TEST_ISSUER, testConfig, type Harness } from '../testing/gateway-harness.js';

describe('api-gateway: authentication', () => {
  let h: Harness;
  const userId = randomUUID();
  const tokens = (authorization?: string) => h.http({ url: '/v1/tokens', headers: authorization ? { authorization } : {} });
  const nowSeconds = () => Math.floor(Date.now() / 1_000);

  beforeAll(async () => {
    h = await startHarness();
    h.participants.answer(ListTokensV1, () => ({ items: [] }));
  });
  afterAll(async () => { await h.close(); });

  describe('bearer JWT (AUTH_MODE=jwt, PEM key)', () => {
    it('lets a valid token through and acts as its subject', async () => {
      const res = await tokens(`Bearer ${await h.idp.token(userId)}`);
      expect(res.statusCode).toBe(200);
      expect(h.participants.callsTo(ListTokensV1).at(-1)).toEqual({ userId });
    });

    it('refuses 401 with WWW-Authenticate when the header is missing', async () => {
      const res = await tokens();
      expectProblem(res, 401, 'unauthenticated');
      expect(res.headers['www-authenticate']).toBe('Bearer');
    });

    it.each([
      ['another scheme', async () => `Basic ${Buffer.from('u:p').toString('base64')}`],
      ['a token that is not a JWT', async () => 'Bearer not-a-jwt'],
      ['an expired token', async () => `Bearer ${await h.idp.token(userId, { iat: nowSeconds() - 3_600, exp: nowSeconds() - 60 })}`],
      ['a token not valid yet', async () => `Bearer ${await h.idp.token(userId, { nbf: nowSeconds() + 600 })}`],
      ['a token for another audience', async () => `Bearer ${await h.idp.token(userId, { aud: 'another-app' })}`],
      ['a token from another issuer', async () => `Bearer ${await h.idp.token(userId, { iss: 'https://evil.example' })}`],
      ['a token signed by another key', async () => `Bearer ${await h.idp.token(userId, { key: (await generateKeyPair('ES256')).privateKey })}`],
      ['a token HMAC-signed with the public key (algorithm confusion)', async () =>
        `Bearer ${await new SignJWT({ sub: userId }).setProtectedHeader({ alg: 'HS256' }).setIssuer(TEST_ISSUER).setAudience(TEST_AUDIENCE).setExpirationTime('5m').sign(new TextEncoder().encode(h.idp.publicKeyPem))}`],
      ['an unsigned token (alg none)', async () => `Bearer ${new UnsecuredJWT({ sub: userId }).setIssuer(TEST_ISSUER).setAudience(TEST_AUDIENCE).setExpirationTime('5m').encode()}x`],
      ['a token whose subject is not a user id', async () => `Bearer ${await h.idp.token(userId, { sub: 'alice@example.com' })}`],
      ['a token without expiry', async () => `Bearer ${await new SignJWT({ sub: userId }).setProtectedHeader({ alg: 'ES256' }).setIssuer(TEST_ISSUER).setAudience(TEST_AUDIENCE).sign(h.idp.privateKey)}`],
    ])('refuses 401 unauthenticated for %s', async (_what, make) => {
      const before = h.participants.callsTo(ListTokensV1).length;
      expectProblem(await tokens(await make()), 401, 'unauthenticated');
      expect(h.participants.callsTo(ListTokensV1)).toHaveLength(before);
    });

    it('says that an expired token has expired', async () => {
      const body = expectProblem(await tokens(`Bearer ${await h.idp.token(userId, { iat: nowSeconds() - 3_600, exp: nowSeconds() - 60 })}`), 401, 'unauthenticated');
      expect(body['detail']).toContain('expired');
    });

    it('judges expiry by the gateway\'s clock', async () => {
      let now = Date.now() + 3_600_000;
      const later = await startApiGateway(testConfig(h.nats.url, { auth: { publicKeyPem: h.idp.publicKeyPem } }), { now: () => new Date(now), logLevel: 'silent' });
      try {
        const token = await h.idp.token(userId, { exp: nowSeconds() + 600 });
        expectProblem(await httpCall(later.url, { url: '/v1/tokens', headers: { authorization: `Bearer ${token}` } }), 401, 'unauthenticated');
        now = Date.now();
        expect((await httpCall(later.url, { url: '/v1/tokens', headers: { authorization: `Bearer ${token}` } })).statusCode).toBe(200);
      } finally {
        await later.close();
      }
    });
  });

  describe('bearer JWT with keys from a JWKS URL', () => {
    let jwks: Server;
    let gateway: RunningApiGateway;
    let served = 0;
    beforeAll(async () => {
      const jwk = { ...(await exportJWK((await import('node:crypto')).createPublicKey(h.idp.publicKeyPem))), kid: 'idp-1', alg: 'ES256', use: 'sig' };
      jwks = createServer((_req, res) => { served++; res.setHeader('content-type', 'application/json'); res.end(JSON.stringify({ keys: [jwk] })); });
      await new Promise<void>((resolve) => jwks.listen(0, '127.0.0.1', resolve));
      const url = `http://127.0.0.1:${(jwks.address() as AddressInfo).port}/.well-known/jwks.json`;
      gateway = await startApiGateway(testConfig(h.nats.url, { auth: { jwksUrl: url, publicKeyPem: null } }), { logLevel: 'silent' });
    });
    afterAll(async () => {
      await gateway.close();
      await new Promise((resolve) => jwks.close(resolve));
    });

    it('verifies a token with the published key', async () => {
      const res = await httpCall(gateway.url, { url: '/v1/tokens', headers: { authorization: `Bearer ${await h.idp.token(userId)}` } });
      expect(res.statusCode).toBe(200);
      expect(served).toBeGreaterThan(0);
    });

    it('refuses a token whose key is not published', async () => {
      const other = await generateKeyPair('ES256');
      const res = await httpCall(gateway.url, { url: '/v1/tokens', headers: { authorization: `Bearer ${await h.idp.token(userId, { key: other.privateKey })}` } });
      expectProblem(res, 401, 'unauthenticated');
    });
  });

  describe('routes', () => {
    it('answers an unknown route 404 whether or not a token comes with it', async () => {
      expectProblem(await h.http({ url: '/v1/nothing-here' }), 404, 'not-found');
      expectProblem(await h.http({ method: 'POST', url: '/v1/keys', payload: {} }), 404, 'not-found');
      expectProblem(await h.http({ method: 'DELETE', url: '/v1/tokens' }), 404, 'not-found');
    });

    it('serves the OpenAPI document without a token', async () => {
      expect((await h.http({ url: '/v1/openapi.json' })).statusCode).toBe(200);
    });
  });

  describe('development routes outside AUTH_MODE=dev', () => {
    it.each([
      ['POST', '/v1/dev/session', { rnokpp: '1111111111' }],
      ['POST', '/v1/dev/users', { fullName: 'Тест', rnokpp: '1111111111', cloudKeyPassword: 'x' }],
      ['GET', '/v1/dev/session', undefined],
    ])('answer %s %s 404 exactly like an unknown route', async (method, url, payload) => {
      const dev = await h.http({ method, url, payload });
      const unknown = await h.http({ method, url: url.replace('/dev/', '/nope/'), payload });
      expectProblem(dev, 404, 'not-found');
      const { instance: _a, ...devBody } = dev.json();
      const { instance: _b, ...unknownBody } = unknown.json();
      expect(devBody).toEqual(unknownBody);
      expect(dev.headers['content-type']).toBe(unknown.headers['content-type']);
      expect(h.participants.callsTo(FindDevUserV1)).toHaveLength(0);
      expect(h.participants.callsTo(CreateDevUserV1)).toHaveLength(0);
    });

    it('leaves them out of the OpenAPI document', async () => {
      const doc = (await h.http({ url: '/v1/openapi.json' })).json();
      expect(Object.keys(doc.paths).filter((p) => p.startsWith('/v1/dev'))).toEqual([]);
    });
  });
});

describe('api-gateway: development mode (AUTH_MODE=dev)', () => {
  let h: Harness;
  const demoUserId = randomUUID();
  let now = Date.now();

  beforeAll(async () => {
    h = await startHarness((url) => testConfig(url, {
      auth: { mode: 'dev', issuer: 'thk-dev', audience: 'thk-cabinet', devTokenTtlSeconds: 3_600 },
      rateLimit: { perUser: { burst: 10, perMinute: 10 }, perKey: { burst: 10, perMinute: 10 }, perClient: { burst: 3, perMinute: 1 } },
    }), { now: () => new Date(now) });
    h.participants.answer(FindDevUserV1, ({ rnokpp }) => {
      if (rnokpp !== '1111111111') throw new AppError('not-found', 'no such user');
      return { userId: demoUserId };
    });
    h.participants.answer(ListTokensV1, () => ({ items: [] }));
    h.participants.answer(CreateDevUserV1, ({ rnokpp }) => {
      if (rnokpp === '1111111111') throw new AppError('conflict', 'a user with this РНОКПП exists');
      return { userId: randomUUID(), keyId: randomUUID() };
    });
  });
  afterAll(async () => { await h.close(); });

  const session = (rnokpp: unknown) => h.http({ method: 'POST', url: '/v1/dev/session', payload: { rnokpp } });

  describe('POST /v1/dev/session', () => {
    it('issues a token for the user with that РНОКПП, which the gateway then accepts', async () => {
      const res = await session('1111111111');
      expect(res.statusCode).toBe(200);
      const { accessToken, expiresAt } = res.json();
      expect(Date.parse(expiresAt) - now).toBeGreaterThan(3_500_000);
      const listed = await h.http({ url: '/v1/tokens', headers: { authorization: `Bearer ${accessToken}` } });
      expect(listed.statusCode).toBe(200);
      expect(h.participants.callsTo(ListTokensV1).at(-1)).toEqual({ userId: demoUserId });
    });

    it('issues tokens that end after their lifetime', async () => {
      const { accessToken } = (await session('1111111111')).json();
      now += 3_700_000;
      try {
        expectProblem(await h.http({ url: '/v1/tokens', headers: { authorization: `Bearer ${accessToken}` } }), 401, 'unauthenticated');
      } finally {
        now -= 3_700_000;
      }
    });

    it('answers 404 for an unknown РНОКПП', async () => {
      expectProblem(await session('2222222222'), 404, 'not-found');
    });

    it.each([['123'], [1111111111], [null]])('refuses 400 validation-failed for rnokpp %p', async (rnokpp) => {
      expectProblem(await session(rnokpp), 400, 'validation-failed');
    });

    it('refuses 400 for unknown fields', async () => {
      expectProblem(await h.http({ method: 'POST', url: '/v1/dev/session', payload: { rnokpp: '1111111111', admin: true } }), 400, 'validation-failed');
    });

    it('is not accepted by another gateway (its key is its own), unless they share DEV_AUTH_SECRET', async () => {
      const { accessToken } = (await session('1111111111')).json();
      const other = await startApiGateway(testConfig(h.nats.url, { auth: { mode: 'dev', issuer: 'thk-dev', audience: 'thk-cabinet' } }), { logLevel: 'silent' });
      try {
        expectProblem(await httpCall(other.url, { url: '/v1/tokens', headers: { authorization: `Bearer ${accessToken}` } }), 401, 'unauthenticated');
      } finally {
        await other.close();
      }
      const secret = randomUUID() + randomUUID();
      const config = testConfig(h.nats.url, { auth: { mode: 'dev', issuer: 'thk-dev', audience: 'thk-cabinet', devSecret: secret } });
      const a = await startApiGateway(config, { logLevel: 'silent' });
      const b = await startApiGateway(config, { logLevel: 'silent' });
      try {
        const shared = (await httpCall(a.url, { method: 'POST', url: '/v1/dev/session', payload: { rnokpp: '1111111111' } })).json().accessToken;
        expect((await httpCall(b.url, { url: '/v1/tokens', headers: { authorization: `Bearer ${shared}` } })).statusCode).toBe(200);
      } finally {
        await a.close();
        await b.close();
      }
    });
  });

  describe('POST /v1/dev/users', () => {
    const user = { fullName: 'Петренко Петро Петрович', rnokpp: '3333333333', cloudKeyPassword: 'Dev-User-Password-1' };

    it('creates a user with a cloud key (201), optional fields as null', async () => {
      const res = await h.http({ method: 'POST', url: '/v1/dev/users', payload: user });
      expect(res.statusCode).toBe(201);
      expect(res.json()).toEqual({ userId: expect.any(String), keyId: expect.any(String) });
      expect(h.participants.callsTo(CreateDevUserV1).at(-1)).toEqual({ ...user, organization: null, edrpou: null, position: null, certificate: null });
    });

    it('passes the organisation and the certificate window', async () => {
      const payload = { ...user, rnokpp: '4444444444', organization: 'ТОВ «Тест»', edrpou: '12345678', position: 'директор', certificate: { notBefore: '2020-01-01T00:00:00.000Z', notAfter: '2020-12-31T00:00:00.000Z' } };
      expect((await h.http({ method: 'POST', url: '/v1/dev/users', payload })).statusCode).toBe(201);
      expect(h.participants.callsTo(CreateDevUserV1).at(-1)).toEqual(payload);
    });

    it('answers 409 conflict for an existing РНОКПП', async () => {
      expectProblem(await h.http({ method: 'POST', url: '/v1/dev/users', payload: { ...user, rnokpp: '1111111111' } }), 409, 'conflict');
    });

    it.each([
      ['a bad РНОКПП', { ...user, rnokpp: '12' }],
      ['a bad ЄДРПОУ', { ...user, edrpou: '1' }],
      ['an unknown field', { ...user, role: 'admin' }],
      ['no password', { fullName: user.fullName, rnokpp: user.rnokpp }],
    ])('refuses 400 validation-failed for %s', async (_what, payload) => {
      expectProblem(await h.http({ method: 'POST', url: '/v1/dev/users', payload }), 400, 'validation-failed');
    });

    it('never logs the password', () => {
      expect(h.logs.text).toContain('3333333333');
      expect(h.logs.text).not.toContain(user.cloudKeyPassword);
    });

    it('limits calls per client (they carry a password): 429 with Retry-After', async () => {
      let res;
      for (let i = 0; i < 5; i++) {
        res = await h.http({ method: 'POST', url: '/v1/dev/users', payload: { ...user, rnokpp: `555555555${i}` } });
        if (res.statusCode === 429) break;
      }
      expectProblem(res!, 429, 'rate-limited');
      expect(Number(res!.headers['retry-after'])).toBeGreaterThan(0);
    });
  });

  it('lists the dev routes in the OpenAPI document', async () => {
    const doc = (await h.http({ url: '/v1/openapi.json' })).json();
    expect(doc.paths['/v1/dev/session'].post).toBeDefined();
    expect(doc.paths['/v1/dev/users'].post).toBeDefined();
  });
});
