import { randomUUID } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import pg from 'pg';
import { BlockKeyV1, GetCertificateStatusV1, RevokeCertificateV1 } from '@thk/contracts';
import { MessagePublisher, RpcClient } from '@thk/messaging';
import { devLogin, eventually, followEvents, http, run, sealTo, startE2eStack, tokenObjects, type E2eEnvironment } from './harness.js';

const DEMO_PASSWORD = 'Demo-Cloud-Key-1';
const DAY = 86_400_000;
/** The test stack's agent reports every AGENT_HEARTBEAT_SECONDS = 5 s (tools/stack); accounts counts it online for 3 heartbeats. */
const AGENT_ONLINE_MS = 3 * 5_000;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** `before` plus exactly one new key row, `failed` (asserting the new row's status; its id is unknown beforehand). */
function withOneFailedRow(before: string[], after: string[]): string[] {
  const known = new Set(before.map((k) => k.split(' ')[0]));
  const added = after.filter((k) => !known.has(k.split(' ')[0]));
  expect(added).toEqual([expect.stringMatching(/ failed$/)]);
  return [...before, ...added].sort();
}

/** The token's objects as comparable lines: class, label and CKA_ID of each, sorted. */
function objectsOf(listing: string): string[] {
  return listing.split(/\n(?=\S[^\n]*Object;)/).filter((b) => /Object;/.test(b)).map((b) => {
    const head = b.trim().split('\n')[0]!.trim();
    return `${head} | ${/label:\s*(.*)/.exec(b)?.[1]?.trim() ?? ''} | ${/ID:\s*(\S+)/.exec(b)?.[1] ?? ''}`;
  }).sort();
}

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
  const keysOf = async (bearer: string) => (await http<{ items: KeyAccount[] }>(base, '/v1/keys?limit=200', { token: bearer })).body.items.map((k) => `${k.id} ${k.status}`).sort();

  /** What a started saga would change: the key lists of these users and the token's objects. */
  async function snapshot(bearers: string[]) {
    return { keys: await Promise.all(bearers.map(keysOf)), token: objectsOf(await tokenObjects(env.stack, pin)) };
  }

  /** Asserts that nothing started: after a moment in which a started saga would have had the agent make a key, nothing changed. */
  async function expectNothingStarted(before: Awaited<ReturnType<typeof snapshot>>, bearers: string[]) {
    await sleep(1_500);
    expect(await snapshot(bearers)).toEqual(before);
  }

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

    // The certificate's CRL distribution point is public: a relying party fetches it with no login.
    const text = (await run('openssl', ['x509', '-in', join(env.dir, 'cert.pem'), '-noout', '-ext', 'crlDistributionPoints'])).stdout;
    expect(text).toContain(`URI:${base}/pki/crl`);
    const crl = await http(base, '/pki/crl', { raw: true });
    expect(crl.status).toBe(200);
    expect(crl.headers.get('content-type')).toBe('application/pkix-crl');
    await writeFile(join(env.dir, 'crl.der'), crl.body as Buffer);
    await run('openssl', ['crl', '-inform', 'DER', '-in', join(env.dir, 'crl.der'), '-CAfile', join(env.dir, 'ca.pem'), '-noout']);
    const publicCa = await http(base, '/pki/ca.crt', { raw: true });
    expect(publicCa.status).toBe(200);
    await writeFile(join(env.dir, 'ca.der'), publicCa.body as Buffer);
    await run('openssl', ['x509', '-in', join(env.dir, 'ca.pem'), '-outform', 'DER', '-out', join(env.dir, 'ca-from-pem.der')]);
    expect((publicCa.body as Buffer).equals(await readFile(join(env.dir, 'ca-from-pem.der')))).toBe(true);

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

    it('answers 409 token-unavailable for a token id that no agent has', async () => {
      const before = await snapshot([token]);
      const res = await post(cloud.id, await formBody('P1D', 'Token-Pin-9', { tokenId: 'nobody:000000' }));
      expect(res.status).toBe(409);
      expect(res.body.code).toBe('token-unavailable');
      await expectNothingStarted(before, [token]);
    });

    it('answers 422 wrong-password with the attempts left, then 423 once the key is locked', async () => {
      const other = await http(base, '/v1/dev/users', { method: 'POST', body: { fullName: 'Петренко Петро Петрович', rnokpp: '2222222222', cloudKeyPassword: 'Other-Cloud-1' } });
      expect(other.status).toBe(201);
      const otherToken = await devLogin(base, '2222222222');
      const body = await formBody('P1D', 'Token-Pin-9', { cloudKeyPassword: 'wrong-password' });
      const before = await snapshot([token, otherToken]);
      // Their own key, but the token belongs to the demo user: the password is checked first (api.md order).
      const first = await post(other.body.keyId, body, randomUUID(), otherToken);
      expect(first.status).toBe(422);
      expect(first.body).toMatchObject({ code: 'wrong-password', remainingAttempts: 4 });
      await expectNothingStarted(before, [token, otherToken]);
      // remainingAttempts counts the wrong guesses still allowed before the lock: the fifth one locks it.
      for (let left = 3; left >= 0; left--) {
        const r = await post(other.body.keyId, body, randomUUID(), otherToken);
        expect(r.status).toBe(422);
        expect(r.body.remainingAttempts).toBe(left);
      }
      const locked = await post(other.body.keyId, { ...body, cloudKeyPassword: 'Other-Cloud-1' }, randomUUID(), otherToken);
      expect(locked.status).toBe(423);
      expect(locked.body.code).toBe('key-access-blocked');
      await expectNothingStarted(before, [token, otherToken]);
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
      const before = await snapshot([token, t]);
      const res = await post(expired.body.keyId, await formBody('P1D', 'Token-Pin-9', { cloudKeyPassword: 'Expired-Cloud-1' }), randomUUID(), t);
      expect(res.status).toBe(409);
      expect(res.body.code).toBe('key-not-eligible');
      await expectNothingStarted(before, [token, t]);
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
      const before = await snapshot([token, t]);
      const res = await post(user.body.keyId, await formBody('P1D', 'Token-Pin-9', { cloudKeyPassword: 'Blocked-Cloud-1' }), randomUUID(), t);
      expect(res.status).toBe(409);
      expect(res.body.code).toBe('key-not-eligible');
      // The depository is asked beside the key's own check, so it must refuse such a key before trying
      // any password: wrong guesses at a key that cannot be a base are not counted against its owner.
      const wrong = await formBody('P1D', 'Token-Pin-9', { cloudKeyPassword: 'not-the-password' });
      for (let i = 0; i < 6; i++) {
        const r = await post(user.body.keyId, wrong, randomUUID(), t);
        expect([r.status, r.body.code]).toEqual([409, 'key-not-eligible']);
      }
      const db = new pg.Client({ connectionString: env.databases.accounts });
      await db.connect();
      try {
        const { rows } = await db.query('SELECT failed_attempts FROM cloud_key_secrets WHERE key_id = $1', [user.body.keyId]);
        expect(rows).toEqual([{ failed_attempts: 0 }]);
      } finally {
        await db.end();
      }
      await expectNothingStarted(before, [token, t]);
    });
  });

  describe('a token whose agent has gone away', () => {
    it('answers 409 token-unavailable once the agent\'s heartbeats have expired, and nothing starts', async () => {
      const tok = await firstToken();
      const body = await formBody('P1D', 'Token-Pin-9');
      agent().kill('SIGKILL');
      await eventually(async () => agent().exitCode !== null || agent().signalCode !== null, (gone) => gone, 5_000);
      // Its last inventory is at most one heartbeat old: the token is still listed for a while.
      expect((await http<{ items: Token[] }>(base, '/v1/tokens', { token })).body.items.map((t) => t.tokenId)).toContain(tok.tokenId);
      await sleep(AGENT_ONLINE_MS + 1_000);
      expect((await http<{ items: Token[] }>(base, '/v1/tokens', { token })).body.items).toEqual([]);
      const before = await snapshot([token]);
      const res = await post(cloud.id, body);
      expect(res.status).toBe(409);
      expect(res.body.code).toBe('token-unavailable');
      await expectNothingStarted(before, [token]);
      // Back for the tests below: the agent starts again with its state (keys, journal) and reports the token.
      await env.stack.restart('token-agent');
      await eventually(async () => (await http<{ items: Token[] }>(base, '/v1/tokens', { token })).body.items.map((t) => t.tokenId), (ids) => ids.includes(tok.tokenId), 30_000);
    });
  });

  describe('compensation seen from outside', () => {
    /*
     * What the compensation undoes, and what it deliberately keeps: the saga's compensations are the
     * ones design.md lists (revoke the certificate, destroy the key pair, fail the key row). Setting
     * the token's password is not among them: DestroyTokenKey carries only the request's *new* PIN
     * (sealed), and the agent logs in with it to destroy the private key; the old PIN is nowhere to
     * restore it from (and a PIN first set with C_InitPIN cannot be unset).
     *
     * When the agent comes back, it usually works through its queue in order: the late GenerateTokenKey
     * (it sets the new PIN and makes the pair), then DestroyTokenKey (it destroys that pair), and the
     * token ends with exactly the objects it had and the failed request's new password as its PIN. But
     * when the agent's pull request expired while it was stopped, the generation it had buffered can
     * come back only after its ack wait, behind the DestroyTokenKey: then the agent refuses the late
     * generation (the request is compensated) and nothing at all changes on the token. Both end states
     * leave nothing behind; the test waits for the agent's two answers and checks the one that came.
     */
    it('fails with agent-timeout when the agent goes away mid-saga; the compensation leaves nothing behind (the new PIN only if the late generation ran first)', async () => {
      const beforeObjects = objectsOf(await tokenObjects(env.stack, pin));
      const beforeKeys = await keysOf(token);
      const body = await formBody('P1D', 'Token-Pin-3');
      const answers = { generation: null as string | null, destroyed: false };
      const sub = nc.subscribe('agent.*.evt.>');
      let requestId: string | undefined;
      const watching = (async () => {
        for await (const m of sub) {
          const envelope = JSON.parse(m.string()) as { type: string; data: { requestId?: string } };
          if (!requestId || envelope.data.requestId !== requestId) continue;
          if (envelope.type === 'TokenKeyGenerated' || envelope.type === 'TokenKeyGenerationFailed') answers.generation ??= envelope.type;
          if (envelope.type === 'TokenKeyDestroyed') answers.destroyed = true;
        }
      })();
      agent().kill('SIGSTOP');
      try {
        try {
          const res = await post(cloud.id, body);
          expect(res.status).toBe(202);
          requestId = res.body.requestId as string;
          const { last } = await finalEvent(requestId);
          expect(last).toMatchObject({ status: 'failed', failure: { code: 'agent-timeout' } });
        } finally {
          agent().kill('SIGCONT');
        }
        // The agent comes back and answers both commands, in the order its queue gives them.
        await eventually(async () => answers, (a) => a.generation !== null && a.destroyed, 90_000);
      } finally {
        sub.unsubscribe();
        await watching;
      }
      const newPin = answers.generation === 'TokenKeyGenerated' ? 'Token-Pin-3' : pin;
      const after = await eventually(
        async () => { try { return objectsOf(await tokenObjects(env.stack, newPin)); } catch { return null; } },
        (o) => o !== null && o.length === beforeObjects.length, 30_000,
      );
      expect(after).toEqual(beforeObjects);
      if (newPin !== pin) await expect(tokenObjects(env.stack, pin)).rejects.toThrow();
      pin = newPin;
      const request = await http(base, `/v1/hardware-key-requests/${requestId!}`, { token });
      expect(request.body).toMatchObject({ status: 'failed', keyId: null, failure: { code: 'agent-timeout' } });
      // The pending key row the saga opened is marked failed (the compensation); every other key is as it was.
      expect(await keysOf(token)).toEqual(withOneFailedRow(beforeKeys, await keysOf(token)));
    });

    it('fails with ca-rejected when the base certificate is revoked meanwhile, and destroys the generated key', async () => {
      const beforeObjects = objectsOf(await tokenObjects(env.stack, pin));
      const beforeKeys = await keysOf(token);
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
      // The key was generated (so the PIN became this request's new one, kept as above) and then destroyed.
      const after = await eventually(async () => objectsOf(await tokenObjects(env.stack, 'Token-Pin-4')), (o) => o.length === beforeObjects.length, 30_000);
      expect(after).toEqual(beforeObjects);
      pin = 'Token-Pin-4';
      const request = await http(base, `/v1/hardware-key-requests/${requestId!}`, { token });
      expect(request.body).toMatchObject({ status: 'failed', keyId: null });
      // The request's pending row is failed; the base key is revoked and its temporary keys follow it (design.md §4).
      const revoked = beforeKeys.map((k) => k.replace(/ (active|failed)$/, (_m, st: string) => (st === 'active' ? ' revoked' : ' failed'))).sort();
      expect(await keysOf(token)).toEqual(withOneFailedRow(revoked, await keysOf(token)));
    });
  });
});
