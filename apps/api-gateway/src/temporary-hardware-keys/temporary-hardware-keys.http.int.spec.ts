import { randomUUID } from 'node:crypto';
import {
  defaultKeyAlgorithm, FindHardwareKeyRequestByIdempotencyKeyV1, PreviewValidityV1, RequestTemporaryHardwareKeyV2, temporaryHardwareKeyRequestBody, uuid,
  type RpcRequest,
} from '@thk/contracts';
import { AppError } from '@thk/core';
import { startApiGateway, type RunningApiGateway } from '../api-gateway.app.js';
import { sealedPassword } from '../testing/fixtures.js';
import { expectProblem, httpCall, startHarness, testConfig, type Harness } from '../testing/gateway-harness.js';

type FormRequest = RpcRequest<typeof RequestTemporaryHardwareKeyV2>;

const CLOUD_PASSWORD = 'Demo-Cloud-Key-1-secret';

const ACCEPTED_VALIDITY = { notBefore: '2021-08-25T13:59:00.000Z', notAfter: '2022-08-25T13:21:00.000Z', capped: false };

/** What the played issuance compares: the start request less its key and the cloud key password. */
const fingerprintOf = ({ idempotencyKey: _key, cloudKeyPassword: _password, ...rest }: FormRequest) => JSON.stringify(rest);

/**
 * Issuance as a test participant: refusals chosen by the cloud key password, idempotency by key + body,
 * and the lookup of a stored key by the HTTP body (judged by the contract's body schema, as issuance does).
 */
/** Every request the played issuance started (a replay starts none), across re-plays. */
const startedRequests: string[] = [];

function playIssuance(h: Harness): Map<string, { fingerprint: string; requestId: string }> {
  const seen = new Map<string, { fingerprint: string; requestId: string }>();
  h.participants.answer(FindHardwareKeyRequestByIdempotencyKeyV1, (req) => {
    const before = seen.get(`${req.userId}:${req.idempotencyKey}`);
    if (!before) return { seen: false as const };
    const body = temporaryHardwareKeyRequestBody.safeParse(req.body);
    const baseKeyId = uuid.safeParse(req.baseKeyId);
    const conflict = new AppError('idempotency-conflict', 'this Idempotency-Key was used with another request');
    if (!body.success || !baseKeyId.success) throw conflict;
    const fingerprint = fingerprintOf({
      userId: req.userId, baseKeyId: baseKeyId.data, idempotencyKey: req.idempotencyKey, validity: body.data.validity, tokenId: body.data.tokenId,
      cloudKeyPassword: body.data.cloudKeyPassword, newKeyPassword: body.data.newKeyPassword,
      currentTokenPassword: body.data.currentTokenPassword ?? null, algorithm: body.data.algorithm ?? defaultKeyAlgorithm,
    });
    if (fingerprint !== before.fingerprint) throw conflict;
    return { seen: true as const, reply: { requestId: before.requestId, status: 'requested' as const, validity: ACCEPTED_VALIDITY } };
  });
  h.participants.answer(RequestTemporaryHardwareKeyV2, (req: FormRequest) => {
    const { idempotencyKey, cloudKeyPassword } = req;
    const scoped = `${req.userId}:${idempotencyKey}`;
    const fingerprint = fingerprintOf(req);
    const before = seen.get(scoped);
    if (before && before.fingerprint !== fingerprint) throw new AppError('idempotency-conflict', 'this Idempotency-Key was used with another request');
    const refusal = /^refuse:(.+)$/.exec(cloudKeyPassword)?.[1];
    if (!before && refusal) {
      if (refusal === 'wrong-password') throw new AppError('wrong-password', 'the cloud key password is wrong', { meta: { remainingAttempts: 3 } });
      throw new AppError(refusal, `refused: ${refusal}`);
    }
    const requestId = before?.requestId ?? randomUUID();
    if (!before) startedRequests.push(requestId);
    seen.set(scoped, { fingerprint, requestId });
    return { requestId, status: 'requested' as const, validity: ACCEPTED_VALIDITY, replayed: before !== undefined };
  });
  return seen;
}

describe('api-gateway: forming a temporary hardware key', () => {
  let h: Harness;
  const userId = randomUUID();
  const keyId = randomUUID();
  let bearer: string;
  const body = (extra: Record<string, unknown> = {}) => ({ validity: 'base', tokenId: 'agent-1:220771', cloudKeyPassword: CLOUD_PASSWORD, newKeyPassword: sealedPassword, ...extra });
  const post = (opts: { key?: string; idem?: string | null; payload?: unknown; headers?: Record<string, string>; auth?: string | null } = {}) => {
    const headers: Record<string, string> = { ...(opts.headers ?? {}) };
    if (opts.auth !== null) headers['authorization'] = opts.auth ?? bearer;
    if (opts.idem !== null) headers['idempotency-key'] = opts.idem ?? randomUUID();
    return h.http({ method: 'POST', url: `/v1/keys/${opts.key ?? keyId}/temporary-hardware-keys`, headers, payload: opts.payload ?? body() });
  };

  beforeAll(async () => {
    h = await startHarness((url, idp) => testConfig(url, {
      auth: { publicKeyPem: idp.publicKeyPem },
      rateLimit: { perUser: { burst: 1_000, perMinute: 1_000 }, perKey: { burst: 1_000, perMinute: 1_000 }, perClient: { burst: 1_000, perMinute: 1_000 } },
    }));
    bearer = `Bearer ${await h.idp.token(userId)}`;
    playIssuance(h);
    h.participants.answer(PreviewValidityV1, ({ keyId: k, validity }) => {
      if (k !== keyId) throw new AppError('not-found', 'no such key');
      if (validity === 'P1M') throw new AppError('base-certificate-expiring', 'the base certificate ends too soon');
      return { notBefore: '2021-08-25T13:59:00.000Z', notAfter: validity === 'base' ? '2022-08-25T13:21:00.000Z' : '2021-09-01T13:59:00.000Z', capped: false, cappedBy: null };
    });
  });
  afterAll(async () => { await h.close(); });

  describe('GET /v1/keys/{keyId}/temporary-hardware-keys/preview', () => {
    it('answers the validity issuance computes', async () => {
      const res = await h.http({ url: `/v1/keys/${keyId}/temporary-hardware-keys/preview?validity=P1W`, headers: { authorization: bearer } });
      expect(res.statusCode).toBe(200);
      expect(res.json()).toEqual({ notBefore: '2021-08-25T13:59:00.000Z', notAfter: '2021-09-01T13:59:00.000Z', capped: false, cappedBy: null });
      expect(h.participants.callsTo(PreviewValidityV1).at(-1)).toEqual({ userId, keyId, validity: 'P1W' });
    });

    it.each([[''], ['?validity=P2W'], ['?validity=P1W&extra=1']])('refuses 400 validation-failed for the query "%s"', async (query) => {
      expectProblem(await h.http({ url: `/v1/keys/${keyId}/temporary-hardware-keys/preview${query}`, headers: { authorization: bearer } }), 400, 'validation-failed');
    });

    it('answers issuance\'s refusals with their statuses', async () => {
      expectProblem(await h.http({ url: `/v1/keys/${randomUUID()}/temporary-hardware-keys/preview?validity=P1D`, headers: { authorization: bearer } }), 404, 'not-found');
      expectProblem(await h.http({ url: `/v1/keys/${keyId}/temporary-hardware-keys/preview?validity=P1M`, headers: { authorization: bearer } }), 409, 'base-certificate-expiring');
    });

    it('refuses 401 before judging the query', async () => {
      expectProblem(await h.http({ url: `/v1/keys/${keyId}/temporary-hardware-keys/preview?validity=nonsense` }), 401, 'unauthenticated');
    });
  });

  describe('POST /v1/keys/{keyId}/temporary-hardware-keys', () => {
    it('answers 202 with Location and the request, passing the Idempotency-Key and the defaults to issuance', async () => {
      const idem = randomUUID();
      const res = await post({ idem });
      expect(res.statusCode).toBe(202);
      const accepted = res.json();
      expect(accepted).toEqual({ requestId: expect.any(String), status: 'requested', validity: { notAfter: '2022-08-25T13:21:00.000Z', capped: false } });
      expect(res.headers['location']).toBe(`/v1/hardware-key-requests/${accepted.requestId}`);
      expect(h.participants.callsTo(RequestTemporaryHardwareKeyV2).at(-1)).toEqual({
        userId, baseKeyId: keyId, idempotencyKey: idem, validity: 'base', tokenId: 'agent-1:220771',
        cloudKeyPassword: CLOUD_PASSWORD, newKeyPassword: sealedPassword, currentTokenPassword: null, algorithm: 'EC-P256',
      });
    });

    it('passes the current token password and the algorithm when given', async () => {
      const res = await post({ payload: body({ currentTokenPassword: sealedPassword, algorithm: 'RSA-2048', validity: 'P1D' }) });
      expect(res.statusCode).toBe(202);
      expect(h.participants.callsTo(RequestTemporaryHardwareKeyV2).at(-1)).toMatchObject({ currentTokenPassword: sealedPassword, algorithm: 'RSA-2048', validity: 'P1D' });
    });

    describe('Idempotency-Key', () => {
      it('answers the same request for the same key and body', async () => {
        const idem = randomUUID();
        const first = await post({ idem });
        const second = await post({ idem });
        expect(second.statusCode).toBe(202);
        expect(second.json()).toEqual(first.json());
        expect(second.headers['location']).toBe(first.headers['location']);
      });

      it('answers 409 idempotency-conflict for the same key with another body', async () => {
        const idem = randomUUID();
        expect((await post({ idem })).statusCode).toBe(202);
        expectProblem(await post({ idem, payload: body({ validity: 'P1D' }) }), 409, 'idempotency-conflict');
      });

      it.each<[string, { key?: string; payload?: unknown; headers?: Record<string, string> }]>([
        ['a body that fails validation', { payload: body({ validity: 'P1Y' }) }],
        ['an unknown field', { payload: body({ admin: true }) }],
        ['a body that is not JSON', { payload: '{"validity":', headers: { 'content-type': 'application/json' } }],
        ['a key id that is not a UUID', { key: 'not-a-key' }],
      ])('answers a seen key with %s 409 idempotency-conflict, before the 400/404 checks and without calling issuance', async (_what, change) => {
        const idem = randomUUID();
        expect((await post({ idem })).statusCode).toBe(202);
        const before = h.participants.callsTo(RequestTemporaryHardwareKeyV2).length;
        expectProblem(await post({ idem, ...change }), 409, 'idempotency-conflict');
        expect(h.participants.callsTo(RequestTemporaryHardwareKeyV2)).toHaveLength(before);
        // The stored request is still answered for the same body.
        expect((await post({ idem })).statusCode).toBe(202);
      });

      it('still refuses 400 for the same bad body under a key that was never seen', async () => {
        expectProblem(await post({ payload: body({ validity: 'P1Y' }) }), 400, 'validation-failed');
        expectProblem(await post({ key: 'not-a-key' }), 404, 'not-found');
      });

      describe('a gateway that never saw the key (restarted, another replica: empty cache) answers it from issuance\'s store', () => {
        let fresh: RunningApiGateway | undefined;
        afterEach(async () => { await fresh?.close(); fresh = undefined; });
        const freshGateway = async (config: Parameters<typeof testConfig>[1] = {}) => {
          fresh = await startApiGateway(testConfig(h.nats.url, { auth: { publicKeyPem: h.idp.publicKeyPem }, ...config }), { logLevel: 'silent' });
          return fresh;
        };
        const callOn = (gateway: RunningApiGateway, idem: string, payload: unknown, key: string = keyId) =>
          httpCall(gateway.url, { method: 'POST', url: `/v1/keys/${key}/temporary-hardware-keys`, headers: { authorization: bearer, 'idempotency-key': idem }, payload });

        it('same body: the same request, answered by issuance from its store (straight, no lookup first), without starting anything', async () => {
          const idem = randomUUID();
          const first = await post({ idem });
          expect(first.statusCode).toBe(202);
          const gateway = await freshGateway();
          const started = startedRequests.length;
          const lookups = h.participants.callsTo(FindHardwareKeyRequestByIdempotencyKeyV1).length;
          const again = await callOn(gateway, idem, body());
          expect(again.statusCode).toBe(202);
          expect(again.json()).toEqual(first.json());
          expect(again.headers['location']).toBe(first.headers['location']);
          expect(startedRequests).toHaveLength(started);
          expect(h.participants.callsTo(FindHardwareKeyRequestByIdempotencyKeyV1)).toHaveLength(lookups);
          expect(h.participants.callsTo(RequestTemporaryHardwareKeyV2).at(-1)).toMatchObject({ userId, idempotencyKey: idem, baseKeyId: keyId });
        });

        it('a body that does not parse is looked up first: the stored answer, not 400', async () => {
          const idem = randomUUID();
          expect((await post({ idem })).statusCode).toBe(202);
          const gateway = await freshGateway();
          expectProblem(await callOn(gateway, idem, body({ validity: 'P1Y' })), 409, 'idempotency-conflict');
          expect(h.participants.callsTo(FindHardwareKeyRequestByIdempotencyKeyV1).at(-1)).toEqual({ userId, idempotencyKey: idem, baseKeyId: keyId, body: body({ validity: 'P1Y' }) });
        });

        it('a seen key sent straight to issuance gives its password rate-limit token back (a replay, or its 409: no password was tried)', async () => {
          const idem = randomUUID();
          const first = await post({ idem });
          expect(first.statusCode).toBe(202);
          const one = { burst: 1, perMinute: 1 };
          const gateway = await freshGateway({ rateLimit: { perUser: one, perKey: one, perClient: one } });
          const lookups = h.participants.callsTo(FindHardwareKeyRequestByIdempotencyKeyV1).length;
          // Each takes the only token on its way to issuance, which answers from its store: the token comes back.
          expect((await callOn(gateway, idem, body())).json()).toEqual(first.json());
          expectProblem(await callOn(gateway, idem, body({ validity: 'P1D' })), 409, 'idempotency-conflict');
          expect(h.participants.callsTo(FindHardwareKeyRequestByIdempotencyKeyV1)).toHaveLength(lookups);
          // So a new request still has it, and the one after is refused.
          expect((await callOn(gateway, randomUUID(), body())).statusCode).toBe(202);
          expectProblem(await callOn(gateway, randomUUID(), body()), 429, 'rate-limited');
        });

        it.each<[string, { key?: string; payload?: unknown; headers?: Record<string, string> }]>([
          ['a body that fails validation', { payload: body({ validity: 'P1Y' }) }],
          ['a valid other body', { payload: body({ validity: 'P1D' }) }],
          ['a body that is not JSON', { payload: '{"validity":', headers: { 'content-type': 'application/json' } }],
          ['a key id that is not a UUID', { key: 'not-a-key' }],
        ])('%s: 409 idempotency-conflict at the first call (not 400/404)', async (_what, change) => {
          const idem = randomUUID();
          expect((await post({ idem })).statusCode).toBe(202);
          const gateway = await freshGateway();
          const started = startedRequests.length;
          const res = await httpCall(gateway.url, {
            method: 'POST', url: `/v1/keys/${change.key ?? keyId}/temporary-hardware-keys`,
            headers: { authorization: bearer, 'idempotency-key': idem, ...(change.headers ?? {}) }, payload: change.payload ?? body(),
          });
          expectProblem(res, 409, 'idempotency-conflict');
          expect(startedRequests).toHaveLength(started);
          // The stored request is still answered for the same body.
          expect((await callOn(gateway, idem, body())).statusCode).toBe(202);
        });

        it('a retry from the store is not rate-limited, on a gateway whose limit is spent', async () => {
          const idem = randomUUID();
          const first = await post({ idem });
          expect(first.statusCode).toBe(202);
          const gateway = await freshGateway({ rateLimit: { perUser: { burst: 1, perMinute: 1 }, perKey: { burst: 1, perMinute: 1 }, perClient: { burst: 1, perMinute: 1 } } });
          expect((await callOn(gateway, randomUUID(), body())).statusCode).toBe(202);
          expectProblem(await callOn(gateway, randomUUID(), body()), 429, 'rate-limited');
          for (let i = 0; i < 3; i++) {
            const retry = await callOn(gateway, idem, body());
            expect(retry.statusCode).toBe(202);
            expect(retry.json()).toEqual(first.json());
          }
          // A changed body under the seen key is 409, not 429.
          expectProblem(await callOn(gateway, idem, body({ validity: 'P1D' })), 409, 'idempotency-conflict');
        });

        it('a key issuance never stored takes the new-key order: 400, then 404', async () => {
          const gateway = await freshGateway();
          expectProblem(await callOn(gateway, randomUUID(), body({ validity: 'P1Y' })), 400, 'validation-failed');
          expectProblem(await callOn(gateway, randomUUID(), body(), 'not-a-key'), 404, 'not-found');
        });

        it('the same key of another user is not seen', async () => {
          const idem = randomUUID();
          expect((await post({ idem })).statusCode).toBe(202);
          const gateway = await freshGateway();
          const other = `Bearer ${await h.idp.token(randomUUID())}`;
          const res = await httpCall(gateway.url, { method: 'POST', url: `/v1/keys/${keyId}/temporary-hardware-keys`, headers: { authorization: other, 'idempotency-key': idem }, payload: body({ validity: 'P1Y' }) });
          expectProblem(res, 400, 'validation-failed');
        });

        it('answers 503 service-unavailable when the lookup (of a body that does not parse) times out, and starts nothing', async () => {
          h.participants.silence(FindHardwareKeyRequestByIdempotencyKeyV1);
          // The server must hold the new subscriptions before the next call (they go out on another connection).
          await h.participants.flush();
          try {
            const gateway = await freshGateway({ rpc: { timeoutMs: 300, formingTimeoutMs: 2_000 } });
            const starts = h.participants.callsTo(RequestTemporaryHardwareKeyV2).length;
            const res = await callOn(gateway, randomUUID(), body({ validity: 'P1Y' }));
            expectProblem(res, 503, 'service-unavailable');
            expect(res.headers['retry-after']).toBe('1');
            expect(h.participants.callsTo(RequestTemporaryHardwareKeyV2)).toHaveLength(starts);
          } finally {
            playIssuance(h);
            await h.participants.flush();
          }
        });
      });

      it.each([
        ['missing', null],
        ['empty', ''],
        ['longer than 200 characters', 'k'.repeat(201)],
      ])('refuses 400 validation-failed when it is %s, without calling issuance', async (_what, idem) => {
        const before = h.participants.callsTo(RequestTemporaryHardwareKeyV2).length;
        const res = await post({ idem });
        const problem = expectProblem(res, 400, 'validation-failed');
        expect(problem['detail']).toContain('Idempotency-Key');
        expect(h.participants.callsTo(RequestTemporaryHardwareKeyV2)).toHaveLength(before);
      });

      it('accepts one of exactly 200 characters', async () => {
        expect((await post({ idem: 'k'.repeat(200) })).statusCode).toBe(202);
      });
    });

    describe('refusals in api.md\'s order', () => {
      it('refuses 401 before anything else: a bad body without a token', async () => {
        expectProblem(await post({ auth: null, idem: null, payload: '{not json', headers: { 'content-type': 'application/json' } }), 401, 'unauthenticated');
      });

      it('refuses 400 for the body before 404 for the key', async () => {
        expectProblem(await post({ key: 'not-a-key', payload: body({ validity: 'P1Y' }) }), 400, 'validation-failed');
        expectProblem(await post({ key: 'not-a-key' }), 404, 'not-found');
      });

      it('refuses 400 for a missing Idempotency-Key before 404 for the key', async () => {
        expectProblem(await post({ key: 'not-a-key', idem: null }), 400, 'validation-failed');
      });

      it.each<[string, unknown, Record<string, string>]>([
        ['an unknown field', body({ admin: true }), {}],
        ['a missing field', { validity: 'base', tokenId: 't', cloudKeyPassword: 'p' }, {}],
        ['an unknown validity', body({ validity: 'P1Y' }), {}],
        ['an unknown algorithm', body({ algorithm: 'DSA-1024' }), {}],
        ['a password longer than 256 characters', body({ cloudKeyPassword: 'p'.repeat(257) }), {}],
        ['an empty password', body({ cloudKeyPassword: '' }), {}],
        ['a new password that is not a compact JWE', body({ newKeyPassword: 'plain-text-password' }), {}],
        ['a token id longer than 200 characters', body({ tokenId: 't'.repeat(201) }), {}],
        ['a null currentTokenPassword (optional, never null)', body({ currentTokenPassword: null }), {}],
        ['an array', [body()], {}],
        ['invalid JSON', '{"validity":', { 'content-type': 'application/json' }],
        ['a body that is not JSON', 'validity=base', { 'content-type': 'application/x-www-form-urlencoded' }],
        ['a body larger than the limit', body({ padding: 'x'.repeat(70 * 1024) }), {}],
        ['a prototype-poisoning body', '{"__proto__":{"admin":true},"validity":"base"}', { 'content-type': 'application/json' }],
      ])('refuses 400 validation-failed for %s, without calling issuance', async (_what, payload, headers) => {
        const before = h.participants.callsTo(RequestTemporaryHardwareKeyV2).length;
        expectProblem(await post({ payload, headers }), 400, 'validation-failed');
        expect(h.participants.callsTo(RequestTemporaryHardwareKeyV2)).toHaveLength(before);
      });

      it.each([
        ['not-found', 404],
        ['key-not-eligible', 409],
        ['key-access-blocked', 423],
        ['token-unavailable', 409],
        ['current-token-password-required', 400],
        ['base-certificate-expiring', 409],
        ['algorithm-unsupported', 409],
      ])('answers issuance\'s %s with %i', async (code, status) => {
        const problem = expectProblem(await post({ payload: body({ cloudKeyPassword: `refuse:${code}` }) }), status, code);
        expect(problem).not.toHaveProperty('remainingAttempts');
      });

      it('answers 422 wrong-password with remainingAttempts', async () => {
        const problem = expectProblem(await post({ payload: body({ cloudKeyPassword: 'refuse:wrong-password' }) }), 422, 'wrong-password');
        expect(problem['remainingAttempts']).toBe(3);
      });

      it('answers a saturated depository (busy) 503 service-unavailable with Retry-After', async () => {
        const res = await post({ payload: body({ cloudKeyPassword: 'refuse:busy' }) });
        expectProblem(res, 503, 'service-unavailable');
        expect(res.headers['retry-after']).toBeDefined();
      });

      it('never echoes the password in a refusal', async () => {
        const res = await post({ payload: body({ cloudKeyPassword: 'refuse:wrong-password' }) });
        expect(res.body).not.toContain('refuse:wrong-password');
      });
    });

    describe('a silent issuance', () => {
      it('answers 503 service-unavailable within the forming timeout, never hangs', async () => {
        h.participants.silence(RequestTemporaryHardwareKeyV2);
        // The server must hold the new subscriptions before the next call (they go out on another connection).
        await h.participants.flush();
        const started = Date.now();
        try {
          expectProblem(await post(), 503, 'service-unavailable');
          expect(Date.now() - started).toBeLessThan(7_000); // the harness's forming timeout is 5 s
        } finally {
          playIssuance(h);
          await h.participants.flush();
        }
      });
    });

    describe('request log', () => {
      it('logs the request with its body but without any password or the bearer token', async () => {
        const idem = randomUUID();
        const marker = `tok-${randomUUID()}`;
        const cloud = `Cloud-${randomUUID()}`;
        const current = sealedPassword.replace('dGFn', 'Y3Vy');
        expect((await post({ idem, payload: body({ tokenId: marker, cloudKeyPassword: cloud, currentTokenPassword: current }) })).statusCode).toBe(202);
        await new Promise((r) => setTimeout(r, 50));
        const line = h.logs.entries().find((e) => e['idempotencyKey'] === idem);
        expect(line).toBeDefined();
        expect(line).toMatchObject({ req: { method: 'POST', route: '/v1/keys/:keyId/temporary-hardware-keys' }, res: { statusCode: 202 }, userId });
        expect((line!['body'] as Record<string, unknown>)['tokenId']).toBe(marker);
        expect((line!['body'] as Record<string, unknown>)['cloudKeyPassword']).toBe('[redacted]');
        expect(h.logs.text).toContain(marker);
        expect(h.logs.text).not.toContain(cloud);
        expect(h.logs.text).not.toContain(sealedPassword);
        expect(h.logs.text).not.toContain(current);
        expect(h.logs.text).not.toContain(bearer.slice(7));
      });

      it('does not log a password sent with a refused body either', async () => {
        const cloud = `Cloud-${randomUUID()}`;
        expect((await post({ payload: body({ cloudKeyPassword: cloud, unknownField: 1 }) })).statusCode).toBe(400);
        await new Promise((r) => setTimeout(r, 50));
        expect(h.logs.text).not.toContain(cloud);
      });
    });
  });

  describe('rate limits on calls that carry a password', () => {
    let limited: RunningApiGateway;
    let now = Date.parse('2021-08-25T13:59:00.000Z');
    beforeAll(async () => {
      limited = await startApiGateway(testConfig(h.nats.url, {
        auth: { publicKeyPem: h.idp.publicKeyPem },
        rateLimit: { perUser: { burst: 3, perMinute: 1 }, perKey: { burst: 2, perMinute: 1 }, perClient: { burst: 1, perMinute: 1 } },
      }), { now: () => new Date(now), logLevel: 'silent' });
    });
    afterAll(async () => { await limited.close(); });

    const form = async (user: string, key: string, idem = randomUUID()) => httpCall(limited.url, {
      method: 'POST', url: `/v1/keys/${key}/temporary-hardware-keys`,
      headers: { authorization: `Bearer ${await h.idp.token(user, { iat: Math.floor(now / 1_000), exp: Math.floor(now / 1_000) + 3_600 })}`, 'idempotency-key': idem },
      payload: body(),
    });

    it('refuses 429 rate-limited with Retry-After per key, then allows again after the refill', async () => {
      const key = randomUUID();
      expect((await form(randomUUID(), key)).statusCode).toBe(202);
      expect((await form(randomUUID(), key)).statusCode).toBe(202);
      const before = h.participants.callsTo(RequestTemporaryHardwareKeyV2).length;
      const refused = await form(randomUUID(), key);
      expectProblem(refused, 429, 'rate-limited');
      expect(refused.headers['retry-after']).toBe('60');
      expect(h.participants.callsTo(RequestTemporaryHardwareKeyV2)).toHaveLength(before);
      now += 60_000;
      expect((await form(randomUUID(), key)).statusCode).toBe(202);
    });

    it('refuses 429 per user across keys', async () => {
      const user = randomUUID();
      for (let i = 0; i < 3; i++) expect((await form(user, randomUUID())).statusCode).toBe(202);
      expectProblem(await form(user, randomUUID()), 429, 'rate-limited');
      // Another user is not affected.
      expect((await form(randomUUID(), randomUUID())).statusCode).toBe(202);
    });

    it('does not limit the retry of an accepted call (issuance answers it from what it stored)', async () => {
      const user = randomUUID();
      const key = randomUUID();
      const idem = randomUUID();
      const first = await form(user, key, idem);
      expect(first.statusCode).toBe(202);
      expect((await form(user, key)).statusCode).toBe(202);
      expectProblem(await form(user, key), 429, 'rate-limited');
      for (let i = 0; i < 3; i++) {
        const retry = await form(user, key, idem);
        expect(retry.statusCode).toBe(202);
        expect(retry.json()).toEqual(first.json());
      }
      // The same key from another user is not a retry of this one.
      expectProblem(await form(randomUUID(), key, idem), 429, 'rate-limited');
    });

    it('answers a seen key with another body 409 idempotency-conflict, not 429, when the limit is spent', async () => {
      const user = randomUUID();
      const key = randomUUID();
      const idem = randomUUID();
      expect((await form(user, key, idem)).statusCode).toBe(202);
      expect((await form(user, key)).statusCode).toBe(202);
      expectProblem(await form(user, key), 429, 'rate-limited');
      const token = await h.idp.token(user, { iat: Math.floor(now / 1_000), exp: Math.floor(now / 1_000) + 3_600 });
      const other = await httpCall(limited.url, {
        method: 'POST', url: `/v1/keys/${key}/temporary-hardware-keys`, headers: { authorization: `Bearer ${token}`, 'idempotency-key': idem }, payload: body({ validity: 'P1D' }),
      });
      expectProblem(other, 409, 'idempotency-conflict');
    });

    it('judges the body before the rate limit (a refused body costs nothing)', async () => {
      const user = randomUUID();
      const key = randomUUID();
      const token = await h.idp.token(user, { iat: Math.floor(now / 1_000), exp: Math.floor(now / 1_000) + 3_600 });
      for (let i = 0; i < 5; i++) {
        const res = await httpCall(limited.url, { method: 'POST', url: `/v1/keys/${key}/temporary-hardware-keys`, headers: { authorization: `Bearer ${token}`, 'idempotency-key': 'x' }, payload: { validity: 'base' } });
        expect(res.statusCode).toBe(400);
      }
      expect((await form(user, key)).statusCode).toBe(202);
    });

    it('does not limit the preview (no password)', async () => {
      const user = randomUUID();
      const token = await h.idp.token(user, { iat: Math.floor(now / 1_000), exp: Math.floor(now / 1_000) + 3_600 });
      for (let i = 0; i < 5; i++) {
        const res = await httpCall(limited.url, { url: `/v1/keys/${keyId}/temporary-hardware-keys/preview?validity=P1D`, headers: { authorization: `Bearer ${token}` } });
        expect(res.statusCode).toBe(200);
      }
    });
  });

  it('sends only valid requests to the services', () => {
    expect(h.participants.invalidRequests).toEqual([]);
  });
});
