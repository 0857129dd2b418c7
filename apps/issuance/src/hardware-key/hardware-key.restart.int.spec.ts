import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { GetHardwareKeyRequestV1, RequestTemporaryHardwareKeyV1 } from '@thk/contracts';
import { RpcClient } from '@thk/messaging';
import { createTestDatabase, startTestNats, type TestDatabase, type TestNats } from '@thk/testing';
import { eventually, FakeAccounts, FakeAgent, FakeCa, IssuanceEvents } from '../../test/support/participants.js';

const appDir = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const SEALED_NEW = 'eyJhbGciOiJFQ0RILUVTIiwiZW5jIjoiQTI1NkdDTSJ9..aXZpdml2aXZpdg.bmV3LXBpbg.dGFndGFndGFn';

/**
 * The issuance service as its own process (its real `main.ts`), killed with SIGKILL in the middle
 * of sagas — no shutdown hook runs, in-flight messages stay unacknowledged, the outbox may hold
 * unpublished rows — and started again. What it had promised must still happen, once.
 */
describe('issuance service killed and restarted mid-saga', () => {
  let nats: TestNats;
  let db: TestDatabase;
  let nc: NatsConnection;
  let rpc: RpcClient;
  let accounts: FakeAccounts;
  let agent: FakeAgent;
  let ca: FakeCa;
  let events: IssuanceEvents;
  let child: ChildProcess | undefined;

  async function startService(env: Record<string, string> = {}): Promise<void> {
    const proc = spawn(process.execPath, ['--import', './test/register-ts.mjs', 'src/main.ts'], {
      cwd: appDir,
      env: {
        ...process.env, NODE_ENV: 'test', LOG_LEVEL: 'warn', NATS_URL: nats.url, ISSUANCE_DATABASE_URL: db.url, HTTP_PORT: '0',
        ISSUANCE_DEADLINE_POLL_MS: '100', ...env,
      },
      stdio: ['ignore', 'ignore', 'inherit'],
    });
    child = proc;
    // Up when it answers a query (a missing request is `not-found`; nobody answering is `service-unavailable`).
    await eventually(
      () => rpc.call(GetHardwareKeyRequestV1, { userId: randomUUID(), requestId: randomUUID() }, { timeoutMs: 500 }).then(() => 'up', (e: { code: string }) => e.code),
      (code) => code === 'not-found' || proc.exitCode !== null, 30_000, 'the issuance process answering',
    );
    if (proc.exitCode !== null) throw new Error(`the issuance process exited with ${proc.exitCode}`);
  }

  async function kill(): Promise<void> {
    const proc = child;
    if (!proc || proc.exitCode !== null || proc.signalCode !== null) return;
    await new Promise<void>((done) => { proc.once('exit', () => done()); proc.kill('SIGKILL'); });
    child = undefined;
  }

  beforeAll(async () => {
    [nats, db] = await Promise.all([startTestNats(), createTestDatabase('issuance_restart')]);
    nc = await connect({ servers: nats.url });
    rpc = new RpcClient(nc, 5_000);
    // The participants need the streams; the first service start provisions them. This first process
    // gives the agent 1.5 s per step: the deadline it sets is data in the saga, and outlives it.
    await startService({ ISSUANCE_AGENT_STEP_TIMEOUT_MS: '1500' });
    accounts = new FakeAccounts(nc).start();
    agent = await new FakeAgent(nc, 'agent-r').start();
    ca = await new FakeCa(nc).start();
    events = new IssuanceEvents(nc).start();
  });

  afterAll(async () => {
    await kill();
    events?.stop();
    accounts?.stop();
    await agent?.stop();
    await ca?.stop();
    await nc?.close();
    await db?.drop();
    await nats?.stop();
  });

  async function startRequest(serial: string): Promise<{ requestId: string; userId: string }> {
    const key = accounts.addCloudKey();
    const token = accounts.addToken({ userId: key.userId, agentId: agent.agentId, serial });
    const reply = await rpc.call(RequestTemporaryHardwareKeyV1, {
      userId: key.userId, baseKeyId: key.account.id, idempotencyKey: randomUUID(), validity: 'P1W', tokenId: token.view.tokenId,
      cloudKeyPassword: key.password, newKeyPassword: SEALED_NEW, currentTokenPassword: null, algorithm: 'EC-P256',
    });
    return { requestId: reply.requestId, userId: key.userId };
  }

  const held = (requestId: string) => eventually(() => agent.held.find((h) => (h.envelope.data as { requestId: string }).requestId === requestId), (h) => h !== undefined);

  it('keeps a deadline through a restart: a silent agent times out while no service runs, and its key is destroyed', async () => {
    agent.script('300003', { generate: 'hold' });
    const { requestId, userId } = await startRequest('300003');
    const generate = await held(requestId);
    await kill();
    await new Promise((r) => setTimeout(r, 1_600)); // the deadline passes while nobody is running
    await startService(); // default timeouts now: the saga keeps the deadline it was given
    await events.until(requestId, 'failed', 30_000);
    await expect(rpc.call(GetHardwareKeyRequestV1, { userId, requestId })).resolves.toMatchObject({ status: 'failed', failure: { code: 'agent-timeout' } });
    await eventually(() => agent.received('DestroyTokenKey', requestId), (l) => l.length === 1);
    expect(agent.received('DestroyTokenKey', requestId)[0]!.data).toMatchObject({ sealedPin: SEALED_NEW });
    // The key the agent generates after all is destroyed too.
    await generate!.release();
    await eventually(() => agent.received('DestroyTokenKey', requestId), (l) => l.length === 2);
  });

  it('completes the sagas in flight when it died: one waiting for the agent, one that had just received its key', async () => {
    agent.script('300001', { generate: 'hold' });
    agent.script('300002', {});
    ca.script('300002', { issue: 'hold' });
    const waiting = await startRequest('300001');
    const generate = await held(waiting.requestId);
    const justGenerated = await startRequest('300002');
    // Kill as soon as the second saga has its key: its IssueCertificate may or may not have left the outbox.
    await eventually(() => events.progress(justGenerated.requestId), (p) => p.some(([, s]) => s === 'key-generated'), 15_000);
    await kill();
    // The agent answers the first while the service is down: the event waits in JetStream.
    await generate!.release();
    await startService();
    const issue = await eventually(() => ca.held.filter((h) => (h.envelope.data as { requestId: string }).requestId === justGenerated.requestId), (l) => l.length >= 1);
    await issue[0]!.release();

    for (const { requestId, userId } of [waiting, justGenerated]) {
      expect(await events.until(requestId, 'completed', 30_000)).toEqual([
        [1, 'requested'], [2, 'key-generating'], [3, 'key-generated'], [4, 'certificate-issuing'],
        [5, 'certificate-issued'], [6, 'installing'], [7, 'completed'],
      ]);
      expect(agent.received('GenerateTokenKey', requestId)).toHaveLength(1);
      // A re-published outbox row carries the same message id: each command reached its participant once.
      expect(new Set(ca.received('IssueCertificate').filter((e) => e.data.requestId === requestId).map((e) => e.id)).size).toBe(1);
      expect(agent.received('InstallCertificate', requestId)).toHaveLength(1);
      await eventually(() => events.of('TemporaryHardwareKeyFormed', requestId), (l) => l.length >= 1);
      await expect(rpc.call(GetHardwareKeyRequestV1, { userId, requestId })).resolves.toMatchObject({ status: 'completed' });
    }
  });
});
