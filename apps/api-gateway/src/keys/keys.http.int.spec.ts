import { randomUUID } from 'node:crypto';
import { GetCaCertificateV1, GetCrlV1, GetKeyCertificateV1, GetKeyV1, ListKeysV1, ListTokensV1 } from '@thk/contracts';
import { AppError } from '@thk/core';
import { keyAccountFixture, tokenFixture } from '../testing/fixtures.js';
import { expectProblem, startHarness, type Harness } from '../testing/gateway-harness.js';

describe('api-gateway: keys, tokens and the CA', () => {
  let h: Harness;
  const userId = randomUUID();
  const otherUserId = randomUUID();
  const mine = keyAccountFixture();
  const theirs = keyAccountFixture();
  let bearer: string;

  const get = (url: string, headers: Record<string, string> = { authorization: bearer }) => h.http({ method: 'GET', url, headers });

  beforeAll(async () => {
    h = await startHarness();
    bearer = `Bearer ${await h.idp.token(userId)}`;
    const owned = new Map([[mine.id, userId], [theirs.id, otherUserId]]);
    h.participants.answer(ListKeysV1, ({ userId: u, limit, cursor }) => ({
      items: u === userId ? [mine].slice(0, limit) : [],
      nextCursor: cursor === null && limit === 1 ? 'next-page' : null,
    }));
    h.participants.answer(GetKeyV1, ({ userId: u, keyId }) => {
      if (owned.get(keyId) !== u) throw new AppError('not-found', 'no such key');
      return { key: keyId === mine.id ? mine : theirs, certificateRevoked: false };
    });
    h.participants.answer(GetKeyCertificateV1, ({ userId: u, keyId }) => {
      if (owned.get(keyId) !== u) throw new AppError('not-found', 'no such key');
      return { der: Buffer.from([0x30, 0x82, 0x01, 0x0a]).toString('base64') };
    });
    h.participants.answer(ListTokensV1, () => ({ items: [tokenFixture()] }));
    h.participants.answer(GetCaCertificateV1, () => ({ pem: '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n', chainPem: '', notAfter: '2030-01-01T00:00:00.000Z' }));
    h.participants.answer(GetCrlV1, () => ({ der: Buffer.from([0x30, 0x03, 0x02, 0x01, 0x01]).toString('base64'), thisUpdate: '2021-08-25T00:00:00.000Z', nextUpdate: '2021-08-26T00:00:00.000Z' }));
  });
  afterAll(async () => { await h.close(); });

  describe('GET /v1/keys', () => {
    it('answers the user\'s page of keys, asking accounts with the default limit of 50', async () => {
      const res = await get('/v1/keys');
      expect(res.statusCode).toBe(200);
      expect(res.headers['content-type']).toMatch(/^application\/json/);
      expect(res.json()).toEqual({ items: [mine], nextCursor: null });
      expect(h.participants.callsTo(ListKeysV1).at(-1)).toEqual({ userId, limit: 50, cursor: null });
    });

    it('passes limit and cursor through', async () => {
      const res = await get('/v1/keys?limit=1&cursor=abc');
      expect(res.statusCode).toBe(200);
      expect(h.participants.callsTo(ListKeysV1).at(-1)).toEqual({ userId, limit: 1, cursor: 'abc' });
    });

    it.each([['limit=0'], ['limit=201'], ['limit=abc'], ['limit=1&limit=2'], ['cursor='], [`cursor=${'x'.repeat(513)}`], ['unknown=1']])(
      'refuses 400 validation-failed for %s', async (query) => {
        const res = await get(`/v1/keys?${query}`);
        expectProblem(res, 400, 'validation-failed');
      });
  });

  describe('GET /v1/keys/{keyId}', () => {
    it('answers the key account', async () => {
      const res = await get(`/v1/keys/${mine.id}`);
      expect(res.statusCode).toBe(200);
      expect(res.json()).toEqual(mine);
    });

    it('answers another user\'s key 404, exactly as a missing one', async () => {
      const theirsRes = await get(`/v1/keys/${theirs.id}`);
      const missingRes = await get(`/v1/keys/${randomUUID()}`);
      expect(theirsRes.statusCode).toBe(404);
      expect(missingRes.statusCode).toBe(404);
      const strip = (b: Record<string, unknown>) => ({ ...b, instance: undefined });
      expect(strip(theirsRes.json())).toEqual(strip(missingRes.json()));
      expect(theirsRes.json()).toMatchObject({ code: 'not-found', status: 404 });
    });

    it('answers 404 for an id that is not a UUID, without asking accounts', async () => {
      const before = h.participants.callsTo(GetKeyV1).length;
      const res = await get('/v1/keys/not-a-uuid');
      expect(res.statusCode).toBe(404);
      expect(res.json()).toMatchObject({ code: 'not-found' });
      expect(h.participants.callsTo(GetKeyV1)).toHaveLength(before);
    });
  });

  describe('GET /v1/keys/{keyId}/certificate', () => {
    it('answers the DER certificate as application/pkix-cert', async () => {
      const res = await get(`/v1/keys/${mine.id}/certificate`);
      expect(res.statusCode).toBe(200);
      expect(res.headers['content-type']).toBe('application/pkix-cert');
      expect(res.rawPayload).toEqual(Buffer.from([0x30, 0x82, 0x01, 0x0a]));
    });

    it('answers another user\'s key 404', async () => {
      expectProblem(await get(`/v1/keys/${theirs.id}/certificate`), 404, 'not-found');
    });
  });

  describe('GET /v1/tokens', () => {
    it('answers the tokens of the user\'s online agents', async () => {
      const res = await get('/v1/tokens');
      expect(res.statusCode).toBe(200);
      expect(res.json()).toEqual({ items: [tokenFixture()] });
      expect(h.participants.callsTo(ListTokensV1).at(-1)).toEqual({ userId });
    });
  });

  describe('GET /v1/ca/certificate and /v1/ca/crl', () => {
    it('answers the CA certificate as PEM', async () => {
      const res = await get('/v1/ca/certificate');
      expect(res.statusCode).toBe(200);
      expect(res.headers['content-type']).toBe('application/x-pem-file');
      expect(res.body).toContain('-----BEGIN CERTIFICATE-----');
    });

    it('answers the CRL as DER', async () => {
      const res = await get('/v1/ca/crl');
      expect(res.statusCode).toBe(200);
      expect(res.headers['content-type']).toBe('application/pkix-crl');
      expect(res.rawPayload).toEqual(Buffer.from([0x30, 0x03, 0x02, 0x01, 0x01]));
    });

    it('requires authentication', async () => {
      expect((await get('/v1/ca/certificate', {})).statusCode).toBe(401);
      expect((await get('/v1/ca/crl', {})).statusCode).toBe(401);
    });
  });

  describe('GET /pki/crl and /pki/ca.crt (public, for relying parties: the certificates\' CRL distribution point)', () => {
    it('answers the CRL as DER without authentication', async () => {
      const res = await get('/pki/crl', {});
      expect(res.statusCode).toBe(200);
      expect(res.headers['content-type']).toBe('application/pkix-crl');
      expect(res.rawPayload).toEqual(Buffer.from([0x30, 0x03, 0x02, 0x01, 0x01]));
    });

    it('answers the CA certificate as DER without authentication', async () => {
      const res = await get('/pki/ca.crt', {});
      expect(res.statusCode).toBe(200);
      expect(res.headers['content-type']).toBe('application/pkix-cert');
      expect(res.rawPayload.toString('base64')).toBe('MIIB');
    });

    it('ignores a bearer token, and answers an unknown /pki path 404 (never the cabinet page)', async () => {
      expect((await get('/pki/crl', { authorization: 'Bearer not-a-token' })).statusCode).toBe(200);
      expectProblem(await get('/pki/other', {}), 404, 'not-found');
    });
  });

  describe('query parameters on routes that take none', () => {
    it.each(['/v1/tokens?x=1', `/v1/keys/${'00000000-0000-4000-8000-000000000000'}?expand=all`, '/v1/ca/crl?format=pem', '/v1/ca/certificate?a=1&b=2'])('refuses %s 400 validation-failed', async (url) => {
      const problem = expectProblem(await get(url), 400, 'validation-failed');
      expect(problem['detail']).toContain('query');
    });

    it('refuses 401 first without a token', async () => {
      expectProblem(await get('/v1/tokens?x=1', {}), 401, 'unauthenticated');
    });

    it('still refuses an unknown parameter on a route with a query schema', async () => {
      expectProblem(await get('/v1/keys?limit=1&sort=asc'), 400, 'validation-failed');
    });
  });

  describe('a downstream service that does not answer', () => {
    it('answers 503 service-unavailable with Retry-After when the service hangs, within the RPC timeout', async () => {
      h.participants.silence(ListTokensV1);
      const started = Date.now();
      const res = await get('/v1/tokens');
      expectProblem(res, 503, 'service-unavailable');
      expect(res.headers['retry-after']).toBe('1');
      expect(Date.now() - started).toBeLessThan(5_000); // the harness's RPC timeout is 3 s
      h.participants.answer(ListTokensV1, () => ({ items: [] }));
      await h.participants.flush();
    });

    it('answers 503 service-unavailable at once when no service listens', async () => {
      h.participants.unanswered(GetCrlV1);
      const res = await get('/v1/ca/crl');
      expectProblem(res, 503, 'service-unavailable');
    });

    it('answers 500 internal without the downstream message when a service fails unexpectedly', async () => {
      h.participants.answer(GetCaCertificateV1, () => { throw new Error('pg: connection to 10.0.0.5 refused'); });
      await h.participants.flush(); // the replaced responder is registered before the call
      const res = await get('/v1/ca/certificate');
      expectProblem(res, 500, 'internal');
      expect(res.body).not.toContain('10.0.0.5');
    });
  });

  it('sends only valid requests to the services', () => {
    expect(h.participants.invalidRequests).toEqual([]);
  });
});
