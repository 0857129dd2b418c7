import { randomUUID } from 'node:crypto';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { FindHardwareKeyRequestByIdempotencyKeyV1, RequestTemporaryHardwareKeyV1, type RpcRequest } from '@thk/contracts';
import { createLogger } from '@thk/core';
import { RpcClient } from '@thk/messaging';
import { createTestDatabase, startTestNats, type TestDatabase, type TestNats } from '@thk/testing';
import { FakeAccounts, FakeAgent, FakeCa, type FakeKey, type FakeToken } from '../../test/support/participants.js';
import { startIssuance, type RunningIssuance } from '../issuance.app.js';

const PASSWORD = 'Demo-Cloud-Key-1';
const SEALED_NEW = 'eyJhbGciOiJFQ0RILUVTIiwiZW5jIjoiQTI1NkdDTSJ9..aXZpdml2aXZpdg.bmV3LXBpbg.dGFndGFndGFn';
const SEALED_OTHER = 'eyJhbGciOiJFQ0RILUVTIiwiZW5jIjoiQTI1NkdDTSJ9..aXZpdml2aXZpdg.b3RoZXI.dGFndGFndGFn';

type Find = RpcRequest<typeof FindHardwareKeyRequestByIdempotencyKeyV1>;

describe('issuance: FindHardwareKeyRequestByIdempotencyKey (real NATS and Postgres)', () => {
  let nats: TestNats;
  let db: TestDatabase;
  let nc: NatsConnection;
  let rpc: RpcClient;
  let accounts: FakeAccounts;
  let agent: FakeAgent;
  let ca: FakeCa;
  let issuance: RunningIssuance;
  const logLines: string[] = [];

  beforeAll(async () => {
        [nats, db] = await Promise.all([startTestNats(), createTestDatabase('issuance_find_by_key')]);
    issuance = await startIssuance({
      nats: { servers: nats.url, name: 'issuance-find-test' },
      databaseUrl: db.url, httpPort: 0, httpHost: '127.0.0.1',
      agentStepTimeoutMs: 120_000, caStepTimeoutMs: 30_000, deadlinePollMs: 3_600_000, minimumValidityMs: 3_600_000,
      timeZone: 'Europe/Kyiv', issuerCacheMs: 600_000, rpcTimeoutMs: 3_000, clock: () => new Date(),
    }, { logger: createLogger('issuance', { level: 'trace' }, { write: (line: string) => { logLines.push(line); } }) });
    nc = await connect({ servers: nats.url });
    rpc = new RpcClient(nc, 5_000);
    accounts = new FakeAccounts(nc).start();
    agent = await new FakeAgent(nc, 'agent-find').start();
    ca = await new FakeCa(nc).start();
  });

  afterAll(async () => {
    accounts?.stop();
    await agent?.stop();
    await ca?.stop();
    await issuance?.close();
    await nc?.close();
    await db?.drop();
    await nats?.stop();
  });

  /** A stored request: the start call as the gateway sends it, and the HTTP body it came from. */
  async function stored(): Promise<{ key: FakeKey; token: FakeToken; start: RpcRequest<typeof RequestTemporaryHardwareKeyV1>; httpBody: Record<string, unknown>; reply: unknown }> {
    const key = accounts.addCloudKey();
    const token = accounts.addToken({ userId: key.userId, agentId: agent.agentId });
    const httpBody = { validity: 'P1W', tokenId: token.view.tokenId, cloudKeyPassword: PASSWORD, newKeyPassword: SEALED_NEW };
    const start = {
      userId: key.userId, baseKeyId: key.account.id, idempotencyKey: randomUUID(), validity: 'P1W' as const, tokenId: token.view.tokenId,
      cloudKeyPassword: PASSWORD, newKeyPassword: SEALED_NEW, currentTokenPassword: null, algorithm: 'EC-P256' as const,
    };
    const reply = await rpc.call(RequestTemporaryHardwareKeyV1, start);
    return { key, token, start, httpBody, reply };
  }

  const find = (req: Find) => rpc.call(FindHardwareKeyRequestByIdempotencyKeyV1, req);
  const refusalOf = (promise: Promise<unknown>) => promise.then(() => 'answered', (e: { code: string }) => e.code);

  it('answers a seen key with the same body with the stored reply (the defaults applied as the gateway does)', async () => {
    const { start, httpBody, reply } = await stored();
    const seen = await find({ userId: start.userId, idempotencyKey: start.idempotencyKey, baseKeyId: start.baseKeyId, body: httpBody });
    expect(seen).toEqual({ seen: true, reply });
    // Explicit defaults are the same request; so is another cloud key password (it is not part of the fingerprint).
    await expect(find({ userId: start.userId, idempotencyKey: start.idempotencyKey, baseKeyId: start.baseKeyId.toUpperCase(), body: { ...httpBody, algorithm: 'EC-P256', cloudKeyPassword: 'another one' } }))
      .resolves.toEqual({ seen: true, reply });
  });

  it.each<[string, (b: Record<string, unknown>) => unknown]>([
    ['another validity', (b) => ({ ...b, validity: 'P1D' })],
    ['another sealed new password', (b) => ({ ...b, newKeyPassword: SEALED_OTHER })],
    ['a current token password', (b) => ({ ...b, currentTokenPassword: SEALED_OTHER })],
    ['another algorithm', (b) => ({ ...b, algorithm: 'RSA-2048' })],
  ])('answers a seen key with %s idempotency-conflict', async (_what, change) => {
    const { start, httpBody } = await stored();
    await expect(refusalOf(find({ userId: start.userId, idempotencyKey: start.idempotencyKey, baseKeyId: start.baseKeyId, body: change(httpBody) }))).resolves.toBe('idempotency-conflict');
  });

  it('answers a seen key under another base key idempotency-conflict', async () => {
    const { start, httpBody } = await stored();
    await expect(refusalOf(find({ userId: start.userId, idempotencyKey: start.idempotencyKey, baseKeyId: randomUUID(), body: httpBody }))).resolves.toBe('idempotency-conflict');
  });

  it.each<[string, (b: Record<string, unknown>) => unknown, string | null]>([
    ['an unknown validity', (b) => ({ ...b, validity: 'P1Y' }), null],
    ['an unknown field', (b) => ({ ...b, admin: true }), null],
    ['a missing field', ({ newKeyPassword: _n, ...rest }) => rest, null],
    ['a null currentTokenPassword', (b) => ({ ...b, currentTokenPassword: null }), null],
    ['null (a body the gateway could not read)', () => null, null],
    ['an array', (b) => [b], null],
    ['a key id that is not a UUID', (b) => b, 'not-a-key'],
  ])('answers a seen key with %s idempotency-conflict (it cannot be the stored request)', async (_what, change, baseKeyId) => {
    const { start, httpBody } = await stored();
    await expect(refusalOf(find({ userId: start.userId, idempotencyKey: start.idempotencyKey, baseKeyId: baseKeyId ?? start.baseKeyId, body: change(httpBody) }))).resolves.toBe('idempotency-conflict');
  });

  it('answers seen: false for a key never used, even with an invalid body (the gateway then judges it)', async () => {
    await expect(find({ userId: randomUUID(), idempotencyKey: randomUUID(), baseKeyId: 'not-a-key', body: { validity: 'P1Y' } })).resolves.toEqual({ seen: false });
  });

  it('answers seen: false for another user\'s key, with the very body stored', async () => {
    const { start, httpBody } = await stored();
    await expect(find({ userId: randomUUID(), idempotencyKey: start.idempotencyKey, baseKeyId: start.baseKeyId, body: httpBody })).resolves.toEqual({ seen: false });
  });

  it('neither logs nor persists the body or its password', async () => {
    const { start, httpBody } = await stored();
    const marker = `Cloud-${randomUUID()}`;
    const rowsBefore = await issuance.dataSource.query('SELECT count(*) AS n FROM hardware_key_requests');
    await find({ userId: start.userId, idempotencyKey: start.idempotencyKey, baseKeyId: start.baseKeyId, body: { ...httpBody, cloudKeyPassword: marker } });
    await refusalOf(find({ userId: start.userId, idempotencyKey: start.idempotencyKey, baseKeyId: start.baseKeyId, body: { ...httpBody, cloudKeyPassword: marker, validity: 'P1Y' } }));
    expect(await issuance.dataSource.query('SELECT count(*) AS n FROM hardware_key_requests')).toEqual(rowsBefore);
    const tables: Array<{ table_name: string }> = await issuance.dataSource.query("SELECT table_name FROM information_schema.tables WHERE table_schema = 'public'");
    for (const { table_name } of tables) {
      const rows: unknown[] = await issuance.dataSource.query(`SELECT * FROM "${table_name}"`);
      expect(JSON.stringify(rows)).not.toContain(marker);
    }
    expect(logLines.join('\n')).not.toContain(marker);
  });
});
