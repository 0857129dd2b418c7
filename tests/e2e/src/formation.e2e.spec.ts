import { randomUUID } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { BlockKeyV1, GetCertificateStatusV1, RevokeCertificateV1 } from '@thk/contracts';
import { MessagePublisher, RpcClient } from '@thk/messaging';
import { devLogin, eventually, followEvents, http, run, sealTo, startE2eStack, tokenObjects, type E2eEnvironment } from './harness.js';

const DEMO_PASSWORD = 'Demo-Cloud-Key-1';
const DAY = 86_400_000;

interface KeyAccount { id: string; kind: string; temporary: boolean; baseKeyId: string | null; status: string; certificate: { serialNumber: string; notBefore: string; notAfter: string } | null; actions: string[] }
interface Token { tokenId: string; userPinInitialized: boolean; agentKey: Record<string, string>; display: string }

describe('forming a temporary hardware key, end to end', () => {
  let env: E2eEnvironment;
  let base: string;
  let token: string;
  let cloud: KeyAccount;
  let nc: NatsConnection;
  let pin: string | null = null;

  const keys = async () => (await http<{ items: KeyAccount[] }>(base, '/v1/keys?limit=200', { token })).body.items;
  const firstToken = async () => (await http<{ items: Token[] }>(base, '/v1/tokens', { token })).body.items[0]!;
  const agent = () => env.stack.children.find((c) => c.name === 'token-agent')!.child;

  async function formBody(validity: string, newPin: string, overrides: Record<string, unknown> = {}) {
    const tok = await firstToken();
    return {
      validity, tokenId: tok.tokenId, cloudKeyPassword: DEMO_PASSWORD,
      newKeyPassword: await sealTo(tok.agentKey, newPin),
      ...(tok.userPinInitialized && pin ? { currentTokenPassword: await sealTo(tok.agentKey, pin) } : {}),
      ...overrides,
    };
  }

  async function post(keyId: string, body: unknown, idempotencyKey: string | null = randomUUID(), bearer = token) {
    return http(base, `/v1/keys/${keyId}/temporary-hardware-keys`, { token: bearer, method: 'POST', body, headers: idempotencyKey ? { 'idempotency-key': idempotencyKey } : {} });
  }

  async function finalEvent(requestId: string) {
    const events = await followEvents(base, `/v1/hardware-key-requests/${requestId}/events`, token, undefined, 120_000);
    return { events: events.map((e: { json: unknown }) => e.json) as Array<{ status: string; failure: { code: string } | null }>, last: events.at(-1)?.json };
  }

  beforeAll(async () => {
    env = await startE2eStack({
      issuanceEnv: { ISSUANCE_AGENT_STEP_TIMEOUT_MS: '8000' },
      // The refusal tests send more password-carrying calls than a person would; the limits have their own tests.
      gatewayEnv: { RATE_LIMIT_PASSWORD_PER_USER: '100/600', RATE_LIMIT_PASSWORD_PER_KEY: '100/600', RATE_LIMIT_PASSWORD_PER_CLIENT: '200/1200' },
    });
    base = env.stack.gatewayUrl;
    nc = await connect({ servers: env.stack.natsUrl });
    token = await devLogin(base, '1111111111');
    cloud = (await keys()).find((k) => k.kind === 'cloud')!;
  });

  afterAll(async () => {
    await nc?.close();
    await env?.close();
  });

  it('lists the demo user\'s active cloud key with the menu item to form a temporary hardware key', () => {
    expect(cloud).toMatchObject({ kind: 'cloud', temporary: false, status: 'active' });
    expect(cloud.actions).toContain('form-temporary-hardware-key');
  });

  it('forms a key on the token with `base` validity: active, temporary, hardware, linked, certificate verified', async () => {
    const tok = await firstToken();
    expect(tok.userPinInitialized).toBe(false);
    const preview = await http(base, `/v1/keys/${cloud.id}/temporary-hardware-keys/preview?validity=base`, { token });
    expect(preview.status).toBe(200);
    expect(preview.body).toMatchObject({ notAfter: cloud.certificate!.notAfter, capped: false, cappedBy: null });

    const body = await formBody('base', 'Token-Pin-1');
    const idem = randomUUID();
    const res = await post(cloud.id, body, idem);
    expect(res.status).toBe(202);
    expect(res.headers.get('location')).toBe(`/v1/hardware-key-requests/${res.body.requestId}`);
    expect(res.body.validity).toMatchObject({ notAfter: cloud.certificate!.notAfter, capped: false });
    const { events, last } = await finalEvent(res.body.requestId);
    expect(last).toMatchObject({ status: 'completed' });
    expect(events.map((e) => e.status)).toEqual(expect.arrayContaining(['key-generating', 'certificate-issuing', 'installing', 'completed']));
    pin = 'Token-Pin-1';

    const request = await http(base, `/v1/hardware-key-requests/${res.body.requestId}`, { token });
    expect(request.body).toMatchObject({ status: 'completed', baseKeyId: cloud.id, failure: null });
    const keyId = request.body.keyId as string;
    // The key list is updated from the saga's events, a moment after `completed`.
    const key = (await eventually(() => http<KeyAccount>(base, `/v1/keys/${keyId}`, { token }), (r) => r.body.status === 'active', 10_000)).body;
    expect(key).toMatchObject({ kind: 'hardware', temporary: true, baseKeyId: cloud.id, status: 'active' });
    expect(key.certificate!.notAfter).toBe(cloud.certificate!.notAfter);

    // The same Idempotency-Key with the same body answers the same request; another body conflicts.
    const again = await post(cloud.id, body, idem);
    expect(again.status).toBe(202);
    expect(again.body.requestId).toBe(res.body.requestId);
    const conflict = await post(cloud.id, { ...body, validity: 'P1D' }, idem);
    expect(conflict.status).toBe(409);
    expect(conflict.body.code).toBe('idempotency-conflict');
    expect((await keys()).filter((k) => k.temporary)).toHaveLength(1);

    // openssl verify against the CA; the certificate's public key is the one on the token, under one ID.
    const der = await http(base, `/v1/keys/${keyId}/certificate`, { token, raw: true });
    expect(der.headers.get('content-type')).toContain('application/pkix-cert');
    const caPem = await http<string>(base, '/v1/ca/certificate', { token });
    await writeFile(join(env.dir, 'cert.der'), der.body as Buffer);
    await writeFile(join(env.dir, 'ca.pem'), caPem.body);
    await run('openssl', ['x509', '-inform', 'DER', '-in', join(env.dir, 'cert.der'), '-out', join(env.dir, 'cert.pem')]);
    const verified = await run('openssl', ['verify', '-CAfile', join(env.dir, 'ca.pem'), join(env.dir, 'cert.pem')]);
    expect(verified.stdout).toContain('cert.pem: OK');

    const objects = await tokenObjects(env.stack, pin);
    const ids = [...objects.matchAll(/^\s*ID:\s*([0-9a-f]+)/gim)].map((m) => m[1]);
    expect(objects).toMatch(/Private Key Object/);
    expect(objects).toMatch(/Certificate Object/);
    expect(ids.length).toBe(3);
    expect(new Set(ids).size).toBe(1);
    await run('pkcs11-tool', ['--module', env.stack.token.modulePath, '--login', '--pin', pin, '--read-object', '--type', 'pubkey', '--id', ids[0]!, '-o', join(env.dir, 'token-pub.der')], { env: { ...process.env, SOFTHSM2_CONF: env.stack.token.conf } });
    const tokenPub = await run('openssl', ['pkey', '-pubin', '-inform', 'DER', '-in', join(env.dir, 'token-pub.der')]);
    const certPub = await run('openssl', ['x509', '-in', join(env.dir, 'cert.pem'), '-pubkey', '-noout']);
    expect(tokenPub.stdout.trim()).toBe(certPub.stdout.trim());
  });

  it('gives exactly seven days with P1W, and asks for the current token password once the PIN is set', async () => {
    // The agent reports the token's new PIN state with its next inventory (slot poll).
    const tok = await eventually(firstToken, (t) => t.userPinInitialized, 20_000);
    const missing = await post(cloud.id, { validity: 'P1W', tokenId: tok.tokenId, cloudKeyPassword: DEMO_PASSWORD, newKeyPassword: await sealTo(tok.agentKey, 'Token-Pin-2') });
    expect(missing.status).toBe(400);
    expect(missing.body.code).toBe('current-token-password-required');

    const res = await post(cloud.id, await formBody('P1W', 'Token-Pin-2'));
    expect(res.status).toBe(202);
    expect((await finalEvent(res.body.requestId)).last).toMatchObject({ status: 'completed' });
    pin = 'Token-Pin-2';
    const request = await http(base, `/v1/hardware-key-requests/${res.body.requestId}`, { token });
    const key = (await eventually(() => http<KeyAccount>(base, `/v1/keys/${request.body.keyId}`, { token }), (r) => r.body.status === 'active', 10_000)).body;
    expect(Date.parse(key.certificate!.notAfter) - Date.parse(key.certificate!.notBefore)).toBe(7 * DAY);
  });

  describe('refusals: nothing starts', () => {
    it('answers 400 to bad bodies and a missing Idempotency-Key', async () => {
      const body = await formBody('P1D', 'Token-Pin-9');
      expect((await post(cloud.id, body, null)).body.code).toBe('validation-failed');
      expect((await post(cloud.id, { ...body, validity: 'P2Y' })).status).toBe(400);
      expect((await post(cloud.id, { ...body, extra: true })).status).toBe(400);
      expect((await post(cloud.id, '{not json')).status).toBe(400);
    });

    it('answers 401 without a token', async () => {
      expect((await post(cloud.id, await formBody('P1D', 'Token-Pin-9'), randomUUID(), 'not-a-jwt')).status).toBe(401);
    });

    it('answers 409 token-unavailable for a token that is not online', async () => {
      const res = await post(cloud.id, await formBody('P1D', 'Token-Pin-9', { tokenId: 'nobody:000000' }));
      expect(res.status).toBe(409);
      expect(res.body.code).toBe('token-unavailable');
    });

    it('answers 422 wrong-password with the attempts left, then 423 once the key is locked', async () => {
      const other = await http(base, '/v1/dev/users', { method: 'POST', body: { fullName: 'Петренко Петро Петрович', rnokpp: '2222222222', cloudKeyPassword: 'Other-Cloud-1' } });
      expect(other.status).toBe(201);
      const otherToken = await devLogin(base, '2222222222');
      const body = await formBody('P1D', 'Token-Pin-9', { cloudKeyPassword: 'wrong-password' });
      // Their own key, but the token belongs to the demo user: the password is checked first (api.md order).
      const first = await post(other.body.keyId, body, randomUUID(), otherToken);
      expect(first.status).toBe(422);
      expect(first.body).toMatchObject({ code: 'wrong-password', remainingAttempts: 4 });
      // remainingAttempts counts the wrong guesses still allowed before the lock: the fifth one locks it.
      for (let left = 3; left >= 0; left--) {
        const r = await post(other.body.keyId, body, randomUUID(), otherToken);
        expect(r.status).toBe(422);
        expect(r.body.remainingAttempts).toBe(left);
      }
      const locked = await post(other.body.keyId, { ...body, cloudKeyPassword: 'Other-Cloud-1' }, randomUUID(), otherToken);
      expect(locked.status).toBe(423);
      expect(locked.body.code).toBe('key-access-blocked');
    });

    it('answers 404 for another user\'s key, exactly as for a missing one', async () => {
      const otherToken = await devLogin(base, '2222222222');
      const foreign = await post(cloud.id, await formBody('P1D', 'Token-Pin-9'), randomUUID(), otherToken);
      const missing = await post(randomUUID(), await formBody('P1D', 'Token-Pin-9'), randomUUID(), otherToken);
      expect(foreign.status).toBe(404);
      expect(missing.status).toBe(404);
      expect(foreign.body.code).toBe(missing.body.code);
      expect((await http(base, `/v1/keys/${cloud.id}`, { token: otherToken })).status).toBe(404);
    });

    it('answers 409 key-not-eligible for an expired base key, in the preview too', async () => {
      const notBefore = new Date(Date.now() - 400 * DAY).toISOString();
      const notAfter = new Date(Date.now() - 10 * DAY).toISOString();
      const expired = await http(base, '/v1/dev/users', { method: 'POST', body: { fullName: 'Коваленко Ольга Іванівна', rnokpp: '3333333333', cloudKeyPassword: 'Expired-Cloud-1', certificate: { notBefore, notAfter } } });
      expect(expired.status).toBe(201);
      const t = await devLogin(base, '3333333333');
      const key = (await http<KeyAccount>(base, `/v1/keys/${expired.body.keyId}`, { token: t })).body;
      expect(key.status).toBe('expired');
      expect(key.actions).not.toContain('form-temporary-hardware-key');
      const res = await post(expired.body.keyId, await formBody('P1D', 'Token-Pin-9', { cloudKeyPassword: 'Expired-Cloud-1' }), randomUUID(), t);
      expect(res.status).toBe(409);
      expect(res.body.code).toBe('key-not-eligible');
      const preview = await http(base, `/v1/keys/${expired.body.keyId}/temporary-hardware-keys/preview?validity=P1D`, { token: t });
      expect(preview.status).toBe(409);
    });

    it('answers 409 key-not-eligible for a blocked base key', async () => {
      const user = await http(base, '/v1/dev/users', { method: 'POST', body: { fullName: 'Шевченко Андрій Миколайович', rnokpp: '4444444444', cloudKeyPassword: 'Blocked-Cloud-1' } });
      expect(user.status).toBe(201);
      await new RpcClient(nc).call(BlockKeyV1, { keyId: user.body.keyId, operator: 'e2e-operator', reason: 'suspended by the operator' });
      const t = await devLogin(base, '4444444444');
      const key = (await http<KeyAccount>(base, `/v1/keys/${user.body.keyId}`, { token: t })).body;
      expect(key.status).toBe('blocked');
      expect(key.actions).not.toContain('form-temporary-hardware-key');
      const res = await post(user.body.keyId, await formBody('P1D', 'Token-Pin-9', { cloudKeyPassword: 'Blocked-Cloud-1' }), randomUUID(), t);
      expect(res.status).toBe(409);
      expect(res.body.code).toBe('key-not-eligible');
    });
  });

  describe('compensation seen from outside', () => {
    it('fails with agent-timeout when the agent goes away mid-saga, and leaves nothing on the token', async () => {
      const before = await tokenObjects(env.stack, pin);
      const body = await formBody('P1D', 'Token-Pin-3');
      agent().kill('SIGSTOP');
      try {
        const res = await post(cloud.id, body);
        expect(res.status).toBe(202);
        const { last } = await finalEvent(res.body.requestId);
        expect(last).toMatchObject({ status: 'failed', failure: { code: 'agent-timeout' } });
      } finally {
        agent().kill('SIGCONT');
      }
      // The agent comes back, works through its late command and the compensation: nothing is left.
      await new Promise((r) => setTimeout(r, 3_000));
      const currentPin = async () => { try { return await tokenObjects(env.stack, 'Token-Pin-3'); } catch { return tokenObjects(env.stack, pin); } };
      const objectCount = (s: string) => (s.match(/Object;/g) ?? []).length;
      await eventually(currentPin, (s) => objectCount(s) === objectCount(before), 30_000);
      expect((await keys()).filter((k) => k.temporary && k.status === 'active')).toHaveLength(2);
    });

    it('fails with ca-rejected when the base certificate is revoked meanwhile, and destroys the generated key', async () => {
      const tokenPin = async () => { for (const p of ['Token-Pin-3', pin]) { try { return { p, out: await tokenObjects(env.stack, p) }; } catch { /* try the next */ } } throw new Error('no PIN opens the token'); };
      const { p: currentPin, out: before } = await tokenPin();
      pin = currentPin;
      const body = await formBody('P1D', 'Token-Pin-4');
      agent().kill('SIGSTOP');
      let requestId: string;
      try {
        const res = await post(cloud.id, body);
        expect(res.status).toBe(202);
        requestId = res.body.requestId;
        const publisher = new MessagePublisher(nc);
        await publisher.emit(RevokeCertificateV1, undefined, { serialNumber: cloud.certificate!.serialNumber.toLowerCase(), reason: 'keyCompromise', requestedBy: 'e2e-test', comment: null }, { source: 'e2e', correlationId: randomUUID() });
        const rpc = new RpcClient(nc);
        await eventually(() => rpc.call(GetCertificateStatusV1, { serialNumber: cloud.certificate!.serialNumber.toLowerCase() }), (s) => s.status === 'revoked');
      } finally {
        agent().kill('SIGCONT');
      }
      const { last } = await finalEvent(requestId!);
      expect(last).toMatchObject({ status: 'failed', failure: { code: 'ca-rejected' } });
      const objectCount = (s: string) => (s.match(/Object;/g) ?? []).length;
      const after = await eventually(async () => { try { return await tokenObjects(env.stack, 'Token-Pin-4'); } catch { return tokenObjects(env.stack, pin); } }, (s) => objectCount(s) === objectCount(before), 30_000);
      expect(objectCount(after)).toBe(objectCount(before));
      const request = await http(base, `/v1/hardware-key-requests/${requestId!}`, { token });
      expect(request.body).toMatchObject({ status: 'failed', keyId: null });
    });
  });
});
