import { randomUUID } from 'node:crypto';
import { jetstreamManager } from '@nats-io/jetstream';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import {
  GetHardwareKeyRequestV1, PreviewValidityV1, RequestTemporaryHardwareKeyV1, RequestTemporaryHardwareKeyV2, TokenKeyGeneratedV1, type RpcRequest,
} from '@thk/contracts';
import { RpcClient, type DeadLetter } from '@thk/messaging';
import { createTestDatabase, startTestNats, type TestDatabase, type TestNats } from '@thk/testing';
import pg from 'pg';
import { eventually, FakeAccounts, FakeAgent, FakeCa, IssuanceEvents, type FakeKey, type FakeToken } from '../../test/support/participants.js';
import type { IssuanceConfig } from '../config/issuance.config.js';
import { DEFAULT_DEADLINE_BACKOFF } from './deadline-backoff.js';
import { startIssuance, type RunningIssuance } from '../issuance.app.js';

const AGENT_MS = 120_000;
const CA_MS = 30_000;
const PASSWORD = 'Demo-Cloud-Key-1';
const SEALED_NEW = 'eyJhbGciOiJFQ0RILUVTIiwiZW5jIjoiQTI1NkdDTSJ9..aXZpdml2aXZpdg.bmV3LXBpbg.dGFndGFndGFn';
const SEALED_CURRENT = 'eyJhbGciOiJFQ0RILUVTIiwiZW5jIjoiQTI1NkdDTSJ9..aXZpdml2aXZpdg.Y3VycmVudA.dGFndGFndGFn';

describe('issuance service (real NATS and Postgres; accounts, agent and CA played on the bus)', () => {
  let nats: TestNats;
  let db: TestDatabase;
  let nc: NatsConnection;
  let rpc: RpcClient;
  let accounts: FakeAccounts;
  let agent: FakeAgent;
  let ca: FakeCa;
  let events: IssuanceEvents;
  let issuance: RunningIssuance;
  const clock = { offsetMs: 0 };
  let config: IssuanceConfig;

  beforeAll(async () => {
    [nats, db] = await Promise.all([startTestNats(), createTestDatabase('issuance_saga')]);
    config = {
      nats: { servers: nats.url, name: 'issuance-test' },
      databaseUrl: db.url,
      httpPort: 0,
      httpHost: '127.0.0.1',
      agentStepTimeoutMs: AGENT_MS,
      caStepTimeoutMs: CA_MS,
      deadlinePollMs: 3_600_000, // tests fire deadlines themselves, after moving the clock
      minimumValidityMs: 3_600_000,
      timeZone: 'Europe/Kyiv',
      issuerCacheMs: 600_000,
      rpcTimeoutMs: 3_000,
      clock: () => new Date(Date.now() + clock.offsetMs),
    };
    issuance = await startIssuance(config);
    nc = await connect({ servers: nats.url });
    rpc = new RpcClient(nc, 5_000);
    accounts = new FakeAccounts(nc).start();
    agent = await new FakeAgent(nc, 'agent-a').start();
    ca = await new FakeCa(nc).start();
    events = new IssuanceEvents(nc).start();
  });

  afterAll(async () => {
    events?.stop();
    accounts?.stop();
    await agent?.stop();
    await ca?.stop();
    await issuance?.close();
    await nc?.close();
    await db?.drop();
    await nats?.stop();
  });

  /** A user with an active cloud key and an online token of `agent-a`. */
  function user(options: { token?: Partial<Parameters<FakeAccounts['addToken']>[0]>; key?: Parameters<FakeAccounts['addCloudKey']>[0] } = {}): { key: FakeKey; token: FakeToken } {
    const key = accounts.addCloudKey(options.key);
    const token = accounts.addToken({ userId: key.userId, agentId: agent.agentId, ...options.token });
    return { key, token };
  }

  function body(key: FakeKey, token: FakeToken, over: Partial<RpcRequest<typeof RequestTemporaryHardwareKeyV1>> = {}): RpcRequest<typeof RequestTemporaryHardwareKeyV1> {
    return {
      userId: key.userId, baseKeyId: key.account.id, idempotencyKey: randomUUID(), validity: 'P1M', tokenId: token.view.tokenId,
      cloudKeyPassword: PASSWORD, newKeyPassword: SEALED_NEW, currentTokenPassword: null, algorithm: 'EC-P256', ...over,
    };
  }

  const request = (b: RpcRequest<typeof RequestTemporaryHardwareKeyV1>) => rpc.call(RequestTemporaryHardwareKeyV1, b);
  const view = (key: FakeKey, requestId: string) => rpc.call(GetHardwareKeyRequestV1, { userId: key.userId, requestId });
  const refusalOf = (promise: Promise<unknown>) => promise.then(() => 'accepted', (e: { code: string }) => e.code);
  const rowCount = async () => Number((await issuance.dataSource.query('SELECT count(*) AS n FROM hardware_key_requests'))[0].n);
  /** Moves the service's clock and lets the scheduler run a round. */
  async function advance(ms: number): Promise<number> {
    clock.offsetMs += ms;
    return issuance.fireDueDeadlines();
  }

  describe('PreviewValidity', () => {
    it('answers the window the request would get, capped by the base certificate where it ends first', async () => {
      const { key } = user({ key: { notAfter: new Date(Date.now() + 10 * 86_400_000).toISOString() } });
      const month = await rpc.call(PreviewValidityV1, { userId: key.userId, keyId: key.account.id, validity: 'P1M' });
      expect(month).toMatchObject({ notAfter: key.account.certificate!.notAfter, capped: true, cappedBy: 'base-certificate' });
      const day = await rpc.call(PreviewValidityV1, { userId: key.userId, keyId: key.account.id, validity: 'P1D' });
      expect(new Date(day.notAfter).getTime() - new Date(day.notBefore).getTime()).toBe(86_400_000);
      expect(day).toMatchObject({ capped: false, cappedBy: null });
      expect(ca.caCertificateCalls).toBeLessThanOrEqual(1); // the issuer's notAfter is cached
    });

    it('caps at the issuing CA certificate\'s end, as the CA gateway tells it', async () => {
      const { key } = user();
      const soon = new Date(Date.now() + 3 * 86_400_000);
      ca.notAfter = soon;
      try {
        // The running service cached the CA's earlier answer; a second service asks afresh.
        const second = await startIssuance({ ...config, nats: { servers: nats.url, name: 'issuance-test-issuer' } });
        try {
          await expect(second.services.previews.preview({ userId: key.userId, keyId: key.account.id, validity: 'P1W' }))
            .resolves.toMatchObject({ notAfter: soon.toISOString(), capped: true, cappedBy: 'issuer' });
        } finally {
          await second.close();
        }
      } finally {
        ca.notAfter = new Date(Date.now() + 10 * 365 * 86_400_000);
      }
    });

    it.each([
      ['not-found', () => ({ userId: randomUUID(), keyId: user().key.account.id })],
      ['key-not-eligible', () => { const { key } = user({ key: { status: 'blocked' } }); return { userId: key.userId, keyId: key.account.id }; }],
      ['key-not-eligible', () => { const { key } = user({ key: { revoked: true } }); return { userId: key.userId, keyId: key.account.id }; }],
      ['base-certificate-expiring', () => { const { key } = user({ key: { notAfter: new Date(Date.now() + 1_800_000).toISOString() } }); return { userId: key.userId, keyId: key.account.id }; }],
    ])('refuses with %s', async (code, who) => {
      await expect(refusalOf(rpc.call(PreviewValidityV1, { ...who(), validity: 'P1D' }))).resolves.toBe(code);
    });
  });

  describe('RequestTemporaryHardwareKey → saga', () => {
    it('forms the key: generate on the token, issue, install, completed, with a gap-free progress stream', async () => {
      const { key, token } = user({ token: { userPinInitialized: true } });
      const b = body(key, token, { validity: 'base', currentTokenPassword: SEALED_CURRENT });
      const reply = await request(b);
      expect(reply).toMatchObject({ status: 'key-generating', validity: { notAfter: key.account.certificate!.notAfter, capped: false } });
      const progress = await events.until(reply.requestId, 'completed');
      expect(progress).toEqual([
        [1, 'requested'], [2, 'key-generating'], [3, 'key-generated'], [4, 'certificate-issuing'],
        [5, 'certificate-issued'], [6, 'installing'], [7, 'completed'],
      ]);

      const generate = agent.received('GenerateTokenKey', reply.requestId);
      expect(generate).toHaveLength(1);
      expect(generate[0]!.data).toMatchObject({ tokenSerial: token.view.serial, algorithm: 'EC-P256', subject: key.subject, sealedNewPin: SEALED_NEW, sealedCurrentPin: SEALED_CURRENT });
      const issue = ca.received('IssueCertificate').filter((e) => e.data.requestId === reply.requestId);
      expect(issue).toHaveLength(1);
      expect(issue[0]!.data).toMatchObject({ profile: 'temporary-hardware-key', tokenSerial: token.view.serial, notAfter: key.account.certificate!.notAfter, csr: expect.any(String) });
      expect(issue[0]!.data.authorization.split('.')).toHaveLength(3);

      const formed = await eventually(() => events.of('TemporaryHardwareKeyFormed', reply.requestId), (l) => l.length === 1);
      const requested = events.of('HardwareKeyRequested', reply.requestId);
      expect(requested[0]!.data.keyAccountId).toBe(formed[0]!.data.keyAccountId);
      expect(formed[0]!.data).toMatchObject({ baseKeyId: key.account.id, tokenKeyId: agent.keyIdOf(reply.requestId), token: { serial: token.view.serial, agentId: 'agent-a' } });

      const v = await view(key, reply.requestId);
      expect(v).toMatchObject({ requestId: reply.requestId, baseKeyId: key.account.id, status: 'completed', keyId: formed[0]!.data.keyAccountId, failure: null });
      expect(v.steps.map((s) => s.state)).toEqual(progress.map(([, s]) => s));
      // Another user sees nothing, exactly as for a missing request.
      await expect(refusalOf(rpc.call(GetHardwareKeyRequestV1, { userId: randomUUID(), requestId: reply.requestId }))).resolves.toBe('not-found');
    });

    it('never writes the cloud key password to a table, a stream or an event', async () => {
      const secret = `Pa55-${randomUUID()}`;
      const { key, token } = user({ key: { password: secret } });
      const reply = await request(body(key, token, { cloudKeyPassword: secret }));
      await events.until(reply.requestId, 'completed');
      expect(accounts.passwordsSeen).toContain(secret); // it did reach the depository, in memory
      const client = new pg.Client({ connectionString: db.url });
      await client.connect();
      try {
        for (const table of ['hardware_key_requests', 'outbox', 'inbox']) {
          const { rows } = await client.query(`SELECT t::text AS row FROM ${table} t`);
          expect(rows.map((r: { row: string }) => r.row).join('\n')).not.toContain(secret);
        }
      } finally {
        await client.end();
      }
      const jsm = await jetstreamManager(nc);
      for (const stream of ['ISSUANCE', 'AGENTS', 'CA', 'DEAD_LETTERS']) {
        const info = await jsm.streams.info(stream);
        for (let seq = info.state.first_seq; seq <= info.state.last_seq && info.state.messages > 0; seq++) {
          const m = await jsm.streams.getMessage(stream, { seq }); // null for a deleted sequence; any other error fails the test
          if (m) expect(m.string()).not.toContain(secret);
        }
      }
    });

    it('answers a repeated start from what was stored, and another body under the same key with idempotency-conflict', async () => {
      const { key, token } = user();
      const b = body(key, token);
      const first = await request(b);
      const authorizations = accounts.count('authorize');
      const again = await request(b);
      expect(again).toEqual(first);
      // Answered right after the lookup: no password check, no second saga.
      expect(accounts.count('authorize')).toBe(authorizations);
      await expect(refusalOf(request({ ...b, validity: 'P1D' }))).resolves.toBe('idempotency-conflict');
      await expect(refusalOf(request({ ...b, newKeyPassword: SEALED_CURRENT }))).resolves.toBe('idempotency-conflict');
      // A different password is not part of the fingerprint (it is never stored in any form).
      await expect(request({ ...b, cloudKeyPassword: 'something else' })).resolves.toEqual(first);
      await events.until(first.requestId, 'completed');
      expect(agent.received('GenerateTokenKey').filter((e) => e.data.tokenSerial === token.view.serial)).toHaveLength(1);
    });

    it('v2 says which answer is a replay: false for the start, true for the stored answer, the same conflict for another body', async () => {
      const { key, token } = user();
      const b = body(key, token);
      const first = await rpc.call(RequestTemporaryHardwareKeyV2, b);
      expect(first.replayed).toBe(false);
      const authorizations = accounts.count('authorize');
      await expect(rpc.call(RequestTemporaryHardwareKeyV2, b)).resolves.toEqual({ ...first, replayed: true });
      // v1 answers the same request without the field (its strict schema has none).
      const { replayed: _replayed, ...v1Reply } = first;
      await expect(request(b)).resolves.toEqual(v1Reply);
      expect(accounts.count('authorize')).toBe(authorizations);
      await expect(refusalOf(rpc.call(RequestTemporaryHardwareKeyV2, { ...b, validity: 'P1D' }))).resolves.toBe('idempotency-conflict');
      await events.until(first.requestId, 'completed');
    });

    it('starts one saga when the same start arrives twice at once', async () => {
      const { key, token } = user();
      const b = body(key, token);
      const before = await rowCount();
      const [one, two] = await Promise.all([rpc.call(RequestTemporaryHardwareKeyV2, b), rpc.call(RequestTemporaryHardwareKeyV2, b)]);
      expect(two.requestId).toBe(one.requestId);
      // The one that lost the race to the idempotency key answers as a replay.
      expect([one.replayed, two.replayed].sort()).toEqual([false, true]);
      expect(await rowCount()).toBe(before + 1);
      await events.until(one.requestId, 'completed');
      expect(agent.received('GenerateTokenKey', one.requestId)).toHaveLength(1);
    });

    describe('refusals, in api.md\'s order, before anything starts', () => {
      const cases: Array<[string, string, () => RpcRequest<typeof RequestTemporaryHardwareKeyV1>]> = [
        ['an unknown key (with a wrong password and an unknown token too)', 'not-found', () => { const { key, token } = user(); return body(key, token, { baseKeyId: randomUUID(), cloudKeyPassword: 'wrong', tokenId: 'nope' }); }],
        ['another user\'s key', 'not-found', () => { const { key, token } = user(); return body(key, token, { userId: randomUUID() }); }],
        ['a blocked key, whatever the password', 'key-not-eligible', () => { const { key, token } = user({ key: { status: 'blocked' } }); return body(key, token, { cloudKeyPassword: 'wrong' }); }],
        ['an expired base certificate', 'key-not-eligible', () => { const { key, token } = user({ key: { notAfter: new Date(Date.now() - 1_000).toISOString() } }); return body(key, token); }],
        ['a revoked base certificate', 'key-not-eligible', () => { const { key, token } = user({ key: { revoked: true } }); return body(key, token); }],
        ['a file key', 'key-not-eligible', () => { const { key, token } = user({ key: { kind: 'file' } }); return body(key, token); }],
        ['a key locked after wrong passwords', 'key-access-blocked', () => { const { key, token } = user({ key: { accessBlocked: true } }); return body(key, token, { tokenId: 'nope' }); }],
        ['a wrong password, even with an unknown token', 'wrong-password', () => { const { key, token } = user(); return body(key, token, { cloudKeyPassword: 'wrong', tokenId: 'agent-a:000000' }); }],
        ['a token that is offline', 'token-unavailable', () => { const { key, token } = user({ token: { online: false } }); return body(key, token); }],
        ['another user\'s token', 'token-unavailable', () => { const { key } = user(); const other = user(); return body(key, other.token); }],
        ['a token with a PIN but no current password', 'current-token-password-required', () => { const { key, token } = user({ token: { userPinInitialized: true } }); return body(key, token, { currentTokenPassword: null }); }],
        ['a base certificate ending within the minimum', 'base-certificate-expiring', () => { const { key, token } = user({ key: { notAfter: new Date(Date.now() + 1_800_000).toISOString() } }); return body(key, token, { algorithm: 'RSA-2048', validity: 'base' }); }],
        ['an algorithm the token lacks', 'algorithm-unsupported', () => { const { key, token } = user({ token: { algorithms: ['EC-P256'] } }); return body(key, token, { algorithm: 'RSA-2048' }); }],
      ];

      it.each(cases)('refuses %s with %s', async (_name, code, make) => {
        const b = make();
        const rows = await rowCount();
        await expect(refusalOf(request(b))).resolves.toBe(code);
        expect(await rowCount()).toBe(rows);
        await issuance.flushOutbox();
        expect(agent.commands.filter((c) => b.tokenId.endsWith(`:${(c.envelope.data as { tokenSerial: string }).tokenSerial}`))).toEqual([]);
      });

      it('refuses a key that is not eligible as such whatever the password, asking the depository once, beside the key', async () => {
        // The depository is asked at the same time as the key (its KDF is most of the call), and refuses
        // such a key itself before trying a password: accounts' depository tests and the e2e blocked-key
        // test check that no guess is counted. Here: the key's verdict wins over the password's.
        const { key, token } = user({ key: { status: 'expired' } });
        const before = accounts.count('authorize');
        await expect(refusalOf(request(body(key, token, { cloudKeyPassword: 'wrong' })))).resolves.toBe('key-not-eligible');
        expect(accounts.count('authorize')).toBe(before + 1);
      });

      it('starts after a refusal is fixed, under a new idempotency key', async () => {
        const { key, token } = user();
        await expect(refusalOf(request(body(key, token, { cloudKeyPassword: 'wrong' })))).resolves.toBe('wrong-password');
        await expect(request(body(key, token))).resolves.toMatchObject({ status: 'key-generating' });
      });
    });
  });

  describe('failures and their compensations', () => {
    it('fails with pin-policy when the agent refuses the new PIN, destroying nothing (nothing was created)', async () => {
      const { key, token } = user();
      agent.script(token.view.serial, { generate: { fail: 'pin-policy' } });
      const { requestId } = await request(body(key, token));
      await events.until(requestId, 'failed');
      expect(events.progress(requestId)).toEqual([[1, 'requested'], [2, 'key-generating'], [3, 'compensating'], [4, 'failed']]);
      expect(agent.received('DestroyTokenKey', requestId)).toHaveLength(0);
      const failed = await eventually(() => events.of('HardwareKeyRequestFailed', requestId), (l) => l.length === 1);
      expect(failed[0]!.data).toMatchObject({ code: 'pin-policy', baseKeyId: key.account.id });
      await expect(view(key, requestId)).resolves.toMatchObject({ status: 'failed', keyId: null, failure: { code: 'pin-policy' } });
    });

    it('destroys the generated key when the CA rejects, waits for the agent, then fails with ca-rejected', async () => {
      const { key, token } = user();
      ca.script(token.view.serial, { issue: { reject: 'csr-invalid' } });
      const { requestId } = await request(body(key, token));
      await events.until(requestId, 'failed');
      const destroy = agent.received('DestroyTokenKey', requestId);
      expect(destroy).toHaveLength(1);
      expect(destroy[0]!.data).toMatchObject({ tokenSerial: token.view.serial, reason: 'ca-rejected', sealedPin: SEALED_NEW });
      expect(events.progress(requestId).map(([, s]) => s)).toEqual(['requested', 'key-generating', 'key-generated', 'certificate-issuing', 'compensating', 'failed']);
      await expect(view(key, requestId)).resolves.toMatchObject({ status: 'failed', failure: { code: 'ca-rejected', detail: expect.stringContaining('csr-invalid') } });
    });

    describe('each failure the agent reports', () => {
      // Reported before the agent touched the token's objects: nothing to destroy, nothing issued.
      it.each([
        ['token-absent', 'token-absent'],
        ['token-pin-locked', 'token-pin-locked'],
        ['wrong-token-password', 'wrong-token-password'],
        ['pin-policy', 'pin-policy'],
        ['algorithm-unsupported', 'algorithm-unsupported'], // the token's own mechanisms, though its view listed the algorithm
        ['sealed-password-invalid', 'token-error'],
      ] as const)('generation failing with %s fails the request with %s and destroys nothing', async (agentCode, code) => {
        const { key, token } = user();
        agent.script(token.view.serial, { generate: { fail: agentCode } });
        const { requestId } = await request(body(key, token, { algorithm: agentCode === 'algorithm-unsupported' ? 'RSA-2048' : 'EC-P256' }));
        await events.until(requestId, 'failed');
        const failed = await eventually(() => events.of('HardwareKeyRequestFailed', requestId), (l) => l.length === 1);
        expect(failed[0]!.data).toMatchObject({ code, keyAccountId: events.of('HardwareKeyRequested', requestId)[0]!.data.keyAccountId });
        await expect(view(key, requestId)).resolves.toMatchObject({ status: 'failed', keyId: null, failure: { code } });
        expect(events.progress(requestId).map(([, s]) => s)).toEqual(['requested', 'key-generating', 'compensating', 'failed']);
        await issuance.flushOutbox();
        expect(agent.received('DestroyTokenKey', requestId)).toHaveLength(0);
        expect(ca.received('IssueCertificate').filter((e) => e.data.requestId === requestId)).toHaveLength(0);
      });

      it('generation failing with token-error fails with token-error after the agent confirms the key\'s destruction', async () => {
        const { key, token } = user();
        agent.script(token.view.serial, { generate: { fail: 'token-error' } });
        const { requestId } = await request(body(key, token));
        await events.until(requestId, 'failed');
        const destroy = agent.received('DestroyTokenKey', requestId);
        expect(destroy).toHaveLength(1);
        expect(destroy[0]!.data).toMatchObject({ tokenSerial: token.view.serial, reason: 'token-error', sealedPin: SEALED_NEW });
        const v = await view(key, requestId);
        expect(v).toMatchObject({ status: 'failed', failure: { code: 'token-error' } });
        expect(v.failure!.detail).not.toMatch(/back online/); // awaited and confirmed
        expect(ca.received('IssueCertificate').filter((e) => e.data.requestId === requestId)).toHaveLength(0);
      });

      // Reported while writing the certificate: the key and the certificate exist, both are undone, newest first.
      it.each(['token-absent', 'token-pin-locked', 'wrong-token-password'] as const)('install failing with %s keeps its code, revokes the certificate, then destroys the key', async (code) => {
        const { key, token } = user();
        agent.script(token.view.serial, { install: { fail: code } });
        const { requestId } = await request(body(key, token));
        await events.until(requestId, 'failed');
        const install = agent.received('InstallCertificate', requestId)[0]!;
        const serial = Buffer.from(install.data.certificate, 'base64').toString().replace(/^cert:/, '');
        const revoke = ca.received('RevokeCertificate').filter((e) => e.data.serialNumber === serial);
        expect(revoke).toHaveLength(1);
        const destroy = agent.received('DestroyTokenKey', requestId);
        expect(destroy).toHaveLength(1);
        expect(destroy[0]!.data).toMatchObject({ reason: code });
        expect(revoke[0]!.occurredAt <= destroy[0]!.occurredAt).toBe(true);
        const v = await view(key, requestId);
        expect(v).toMatchObject({ status: 'failed', keyId: null, failure: { code } });
        expect(v.failure!.detail).not.toMatch(/not confirmed|back online/);
        const failed = await eventually(() => events.of('HardwareKeyRequestFailed', requestId), (l) => l.length === 1);
        expect(failed[0]!.data.code).toBe(code);
        expect(events.of('TemporaryHardwareKeyFormed', requestId)).toHaveLength(0);
      });
    });

    it('revokes the certificate, then destroys the key, when the install fails', async () => {
      const { key, token } = user();
      agent.script(token.view.serial, { install: { fail: 'certificate-mismatch' } });
      const { requestId } = await request(body(key, token));
      await events.until(requestId, 'failed');
      const issued = ca.received('RevokeCertificate');
      const installCmd = agent.received('InstallCertificate', requestId)[0]!;
      const serial = Buffer.from(installCmd.data.certificate, 'base64').toString().replace(/^cert:/, '');
      const revoke = issued.filter((e) => e.data.serialNumber === serial);
      expect(revoke).toHaveLength(1);
      expect(revoke[0]!.data).toMatchObject({ reason: 'cessationOfOperation', requestedBy: 'issuance:compensation' });
      const destroy = agent.received('DestroyTokenKey', requestId);
      expect(destroy).toHaveLength(1);
      // Newest first: the revocation was confirmed before the key's destruction was asked for.
      const order = [...ca.commands.map((c) => c.envelope), ...agent.commands.map((c) => c.envelope)].filter((e) => e.id === revoke[0]!.id || e.id === destroy[0]!.id)
        .sort((a, b) => a.occurredAt.localeCompare(b.occurredAt)).map((e) => e.type);
      expect(order).toEqual(['RevokeCertificate', 'DestroyTokenKey']);
      await expect(view(key, requestId)).resolves.toMatchObject({ status: 'failed', failure: { code: 'install-failed' } });
    });

    it('revokes a certificate that outlives the agreed window, waits for the CA\'s confirmation, then destroys the key', async () => {
      const { key, token } = user();
      ca.script(token.view.serial, { issue: 'overlong' });
      const { requestId } = await request(body(key, token));
      await events.until(requestId, 'failed');
      expect(agent.received('InstallCertificate', requestId)).toHaveLength(0);
      expect(agent.received('DestroyTokenKey', requestId)).toHaveLength(1);
      // Confirmed (CertificateRevoked found its saga by serial), not given up on after the CA deadline.
      const v = await view(key, requestId);
      expect(v).toMatchObject({ status: 'failed', failure: { code: 'ca-rejected' } });
      expect(v.failure!.detail).not.toMatch(/not confirmed|back online/);
    });

    it('times out a silent agent with agent-timeout, sends DestroyTokenKey, and destroys a key generated late', async () => {
      const { key, token } = user();
      agent.script(token.view.serial, { generate: 'hold' });
      const { requestId } = await request(body(key, token));
      await eventually(() => agent.received('GenerateTokenKey', requestId), (l) => l.length === 1);
      expect(await advance(AGENT_MS - 5_000)).toBe(0);
      expect(await advance(10_000)).toBeGreaterThanOrEqual(1);
      await events.until(requestId, 'failed');
      await expect(view(key, requestId)).resolves.toMatchObject({ status: 'failed', failure: { code: 'agent-timeout', detail: expect.stringContaining('back online') } });
      await eventually(() => agent.received('DestroyTokenKey', requestId), (l) => l.length === 1);

      // The agent wakes up and reports the key after all: it is destroyed, the saga stays failed.
      await agent.held.find((h) => (h.envelope.data as { requestId: string }).requestId === requestId)!.release();
      await eventually(() => agent.received('DestroyTokenKey', requestId), (l) => l.length === 2);
      expect(agent.received('DestroyTokenKey', requestId)[1]!.data.reason).toBe('late-reply');
      expect(ca.received('IssueCertificate').filter((e) => e.data.requestId === requestId)).toHaveLength(0);
      await expect(view(key, requestId)).resolves.toMatchObject({ status: 'failed' });
    });

    it('times out a silent CA with certificate-timeout, destroys the key, and revokes a certificate issued late', async () => {
      const { key, token } = user();
      ca.script(token.view.serial, { issue: 'hold' });
      const { requestId } = await request(body(key, token));
      await events.until(requestId, 'certificate-issuing');
      await eventually(() => ca.held.filter((h) => (h.envelope.data as { requestId: string }).requestId === requestId), (l) => l.length === 1);
      await advance(CA_MS + 1_000);
      await events.until(requestId, 'failed');
      expect(agent.received('DestroyTokenKey', requestId)).toHaveLength(1);
      await expect(view(key, requestId)).resolves.toMatchObject({ status: 'failed', failure: { code: 'certificate-timeout' } });

      const revocationsBefore = ca.received('RevokeCertificate').length;
      await ca.held.find((h) => (h.envelope.data as { requestId: string }).requestId === requestId)!.release();
      await eventually(() => ca.received('RevokeCertificate').length, (n) => n === revocationsBefore + 1);
      expect(agent.received('InstallCertificate', requestId)).toHaveLength(0);
      await expect(view(key, requestId)).resolves.toMatchObject({ status: 'failed' });
    });

    it('times out a silent install with agent-timeout: revokes the certificate (confirmed), then sends DestroyTokenKey', async () => {
      const { key, token } = user();
      agent.script(token.view.serial, { install: 'silent' });
      const { requestId } = await request(body(key, token));
      await events.until(requestId, 'installing');
      await advance(AGENT_MS + 1_000);
      await events.until(requestId, 'failed');
      const install = agent.received('InstallCertificate', requestId)[0]!;
      const serial = Buffer.from(install.data.certificate, 'base64').toString().replace(/^cert:/, '');
      expect(ca.received('RevokeCertificate').filter((e) => e.data.serialNumber === serial)).toHaveLength(1);
      await eventually(() => agent.received('DestroyTokenKey', requestId), (l) => l.length === 1);
      await expect(view(key, requestId)).resolves.toMatchObject({ status: 'failed', failure: { code: 'agent-timeout' } });
      expect(events.progress(requestId).map(([, s]) => s)).toEqual([
        'requested', 'key-generating', 'key-generated', 'certificate-issuing', 'certificate-issued', 'installing', 'compensating', 'failed',
      ]);
    });

    it('dead-letters an event about the saga from another agent, and the saga goes on unharmed', async () => {
      const { key, token } = user();
      agent.script(token.view.serial, { generate: 'hold' });
      const { requestId } = await request(body(key, token));
      await eventually(() => agent.received('GenerateTokenKey', requestId), (l) => l.length === 1);
      await agent.emit(TokenKeyGeneratedV1, agent.generatedEvent(requestId, token.view.serial), { asAgent: 'mallory' });
      const jsm = await jetstreamManager(nc);
      const letter = await eventually(async () => {
        const info = await jsm.streams.info('DEAD_LETTERS');
        const letters: DeadLetter[] = [];
        for (let seq = info.state.first_seq; info.state.messages > 0 && seq <= info.state.last_seq; seq++) {
          const m = await jsm.streams.getMessage('DEAD_LETTERS', { seq }); // null for a deleted sequence; any other error fails the test
          if (m) letters.push(m.json<DeadLetter>());
        }
        return letters.find((l) => l.subject.startsWith('agent.mallory.') && l.original.includes(requestId));
      }, (l) => l !== undefined);
      expect(letter).toMatchObject({ code: 'issuance.message-refused', consumer: 'issuance-agent-events' });
      await expect(view(key, requestId)).resolves.toMatchObject({ status: 'key-generating' });
      await agent.held.find((h) => (h.envelope.data as { requestId: string }).requestId === requestId)!.release();
      await events.until(requestId, 'completed');
    });
  });

  describe('deadlines', () => {
    it('pushes back a saga whose deadline handling keeps failing (with a growing delay), so a later deadline still fires', async () => {
      const sagas = issuance.services.sagas;
      const start = async () => {
        const { key, token } = user();
        agent.script(token.view.serial, { generate: 'silent' });
        const { requestId } = await request(body(key, token));
        await eventually(() => agent.received('GenerateTokenKey', requestId), (l) => l.length === 1);
        return { key, requestId };
      };
      const row = async (requestId: string) => (await issuance.dataSource.query(
        'SELECT status, deadline_at, deadline_failures FROM hardware_key_requests WHERE request_id = $1', [requestId],
      ))[0] as { status: string; deadline_at: Date | null; deadline_failures: number };
      const serviceNow = () => Date.now() + clock.offsetMs;

      // Two sagas this version cannot handle: their state names a status it does not know (as a newer
      // version would write during a rolling deploy), and their deadlines come first in the scan.
      const broken = [(await start()).requestId, (await start()).requestId];
      await issuance.dataSource.query(
        `UPDATE hardware_key_requests SET state = jsonb_set(state, '{status}', '"key-attesting"'), deadline_at = deadline_at - interval '1 hour' WHERE request_id = ANY($1)`,
        [broken],
      );
      const later = await start();
      try {
        clock.offsetMs += AGENT_MS + 1_000;
        // Pages of two earliest deadlines: without the back-off the broken pair would fill every page.
        for (let round = 0; round < 10 && (await row(later.requestId)).status !== 'failed'; round++) await sagas.fireDueDeadlines(2);
        await events.until(later.requestId, 'failed');
        await expect(view(later.key, later.requestId)).resolves.toMatchObject({ status: 'failed', failure: { code: 'agent-timeout' } });

        for (const id of broken) {
          const r = await row(id);
          expect(r).toMatchObject({ status: 'key-generating', deadline_failures: 1 });
          expect(r.deadline_at!.getTime()).toBeGreaterThan(serviceNow());
        }
        // Failing again, it is pushed back further (the delay doubles), and still not lost.
        const first = await row(broken[0]!);
        clock.offsetMs += first.deadline_at!.getTime() - serviceNow() + 1_000;
        const before = serviceNow();
        await sagas.fireDueDeadlines(2);
        const after = serviceNow();
        const second = await row(broken[0]!);
        expect(second.deadline_failures).toBe(2);
        const { firstMs } = DEFAULT_DEADLINE_BACKOFF;
        expect(second.deadline_at!.getTime() - before).toBeGreaterThan(firstMs);
        expect(second.deadline_at!.getTime() - after).toBeLessThanOrEqual(2 * firstMs);
      } finally {
        await issuance.dataSource.query('DELETE FROM hardware_key_requests WHERE request_id = ANY($1)', [broken]);
      }
    });
  });

  describe('several replicas', () => {
    it('fires one deadline once when two replicas scan at the same moment', async () => {
      const second = await startIssuance({ ...config, httpPort: 0, nats: { servers: nats.url, name: 'issuance-test-2' } });
      try {
        const { key, token } = user();
        agent.script(token.view.serial, { generate: 'silent' });
        const { requestId } = await request(body(key, token));
        await eventually(() => agent.received('GenerateTokenKey', requestId), (l) => l.length === 1);
        clock.offsetMs += AGENT_MS + 1_000;
        const fired = await Promise.all([issuance.fireDueDeadlines(), second.fireDueDeadlines(), issuance.fireDueDeadlines(), second.fireDueDeadlines()]);
        expect(fired.reduce((a, b) => a + b, 0)).toBeGreaterThanOrEqual(1);
        await events.until(requestId, 'failed');
        await issuance.flushOutbox();
        await second.flushOutbox();
        await new Promise((r) => setTimeout(r, 300));
        expect(agent.received('DestroyTokenKey', requestId)).toHaveLength(1);
        expect(events.of('HardwareKeyRequestFailed', requestId)).toHaveLength(1);
        expect(events.progress(requestId).map(([n]) => n)).toEqual([1, 2, 3, 4]);
      } finally {
        await second.close();
      }
    });
  });
});
