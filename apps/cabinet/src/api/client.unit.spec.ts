import { ApiClient, ApiError, newIdempotencyKey } from './client.js';

const answer = (status: number, body: unknown, type = 'application/problem+json') =>
  (async () => new Response(typeof body === 'string' ? body : JSON.stringify(body), { status, headers: { 'content-type': type } })) as unknown as typeof fetch;

describe('ApiClient', () => {
  describe('request', () => {
    it('turns problem+json into an ApiError with the stable code and remaining attempts', async () => {
      const client = new ApiClient({ getToken: () => 't', fetch: answer(422, { type: 'urn:thk:problem:wrong-password', title: 'Wrong password', status: 422, detail: 'x', code: 'wrong-password', remainingAttempts: 3 }) });
      const error = (await client.preview('k', 'P1D').catch((e: unknown) => e)) as ApiError;
      expect(error).toBeInstanceOf(ApiError);
      expect(error.problem).toMatchObject({ code: 'wrong-password', status: 422, remainingAttempts: 3 });
    });

    it('gives a code to an answer that is not problem+json (a proxy page, an empty 502)', async () => {
      const client = new ApiClient({ getToken: () => 't', fetch: answer(502, '<html>Bad gateway</html>', 'text/html') });
      await expect(client.tokens()).rejects.toMatchObject({ problem: { code: 'service-unavailable', status: 502 } });
    });

    it('ends the session on 401, but not for the login call itself', async () => {
      let ended = 0;
      const unauthorized = answer(401, { type: 'urn:thk:problem:unauthenticated', title: 'x', status: 401, detail: 'x', code: 'unauthenticated' });
      const client = new ApiClient({ getToken: () => 't', fetch: unauthorized, onUnauthenticated: () => { ended += 1; } });
      await expect(client.listKeys(10, null)).rejects.toMatchObject({ code: 'unauthenticated' });
      await expect(client.devSession('1111111111')).rejects.toMatchObject({ code: 'unauthenticated' });
      expect(ended).toBe(1);
    });

    it('reports a failed connection as network', async () => {
      const client = new ApiClient({ getToken: () => null, fetch: (async () => { throw new TypeError('Failed to fetch'); }) as unknown as typeof fetch });
      await expect(client.tokens()).rejects.toMatchObject({ code: 'network', status: 0 });
    });

    it('sends the Idempotency-Key and the JSON body of the request', async () => {
      let seen: { headers: Headers; body: string } | null = null;
      const client = new ApiClient({
        getToken: () => 't',
        fetch: (async (_: unknown, init: RequestInit) => {
          seen = { headers: new Headers(init.headers), body: String(init.body) };
          return new Response(JSON.stringify({ requestId: 'r', status: 'requested', validity: { notAfter: '2022-01-01T00:00:00Z', capped: false } }), { status: 202, headers: { 'content-type': 'application/json' } });
        }) as unknown as typeof fetch,
      });
      await client.formTemporaryHardwareKey('k', { validity: 'base', tokenId: 't1', cloudKeyPassword: 'p', newKeyPassword: 'jwe' }, 'idem-1');
      expect(seen!.headers.get('idempotency-key')).toBe('idem-1');
      expect(seen!.headers.get('content-type')).toBe('application/json');
      expect(JSON.parse(seen!.body)).toEqual({ validity: 'base', tokenId: 't1', cloudKeyPassword: 'p', newKeyPassword: 'jwe' });
    });
  });

  describe('newIdempotencyKey', () => {
    it('is fresh each time', () => {
      expect(newIdempotencyKey()).not.toBe(newIdempotencyKey());
    });
  });
});
