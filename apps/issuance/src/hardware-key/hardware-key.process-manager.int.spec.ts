import { randomUUID } from 'node:crypto';
import { jest } from '@jest/globals';
import type { AppError } from '@thk/core';
import type { OutgoingMessage } from '@thk/messaging';
import { OUTBOX_CHANNEL, UnitOfWork, openDatabase } from '@thk/persistence';
import { createTestDatabase, type TestDatabase } from '@thk/testing';
import pg from 'pg';
import type { DataSource } from 'typeorm';
import { issuanceEntities, issuanceMigrations } from '../persistence/index.js';
import { HardwareKeyProcessManager, type HandleResult, type InputMeta, type StartCommand } from './hardware-key.process-manager.js';
import type { RequestFacts, SagaInput, StartedState } from './hardware-key.saga.js';

const AGENT = 'agent-steps';
const SEALED_NEW = 'eyJhbGciOiJFQ0RILUVTIiwiZW5jIjoiQTI1NkdDTSJ9..aXZpdml2aXZpdg.bmV3LXBpbg.dGFndGFndGFn';
const AUTHORIZATION = 'eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJlLXNpZ25hdHVyZQ';
const evidence = { local: true, neverExtractable: true, alwaysSensitive: true, attestation: null };

/**
 * A unit of work that runs `beforeWrite` (when set) between a step's load and its write: where a rival
 * gets in; and counts the single statements it runs (they go to the pool, past `DataSource.query`).
 */
class HookedUnitOfWork extends UnitOfWork {
  beforeWrite: (() => Promise<void>) | undefined;
  statements = 0;

  protected override statement(sql: string, params: unknown[]): Promise<unknown[]> {
    this.statements++;
    return super.statement(sql, params);
  }

  override async runStatement(...args: Parameters<UnitOfWork['runStatement']>): ReturnType<UnitOfWork['runStatement']> {
    await this.beforeWrite?.();
    return super.runStatement(...args);
  }
}

/** Lets `n` callers on together once all of them have arrived: every load is done before any write starts. */
function together(n: number): () => Promise<void> {
  let arrived = 0;
  let release!: () => void;
  const all = new Promise<void>((resolve) => { release = resolve; });
  return () => {
    if (++arrived === n) release();
    return all;
  };
}

function facts(): RequestFacts {
  const serial = String(Math.floor(Math.random() * 1e9));
  const now = new Date();
  return {
    requestId: randomUUID(), userId: randomUUID(), baseKeyId: randomUUID(), keyAccountId: randomUUID(),
    token: { agentId: AGENT, tokenId: `${AGENT}:${serial}`, serial, model: 'SoftHSM v2', label: serial },
    algorithm: 'EC-P256',
    validity: { option: 'P1W', notBefore: now.toISOString(), notAfter: new Date(now.getTime() + 7 * 86_400_000).toISOString(), capped: false, cappedBy: null },
    subject: { commonName: 'Тест Тест', surname: null, givenName: null, serialNumber: 'TINUA-1111111111', organization: null, organizationIdentifier: null, title: null, country: 'UA' },
    authorization: AUTHORIZATION, sealedNewPin: SEALED_NEW, requestedAt: now.toISOString(),
  };
}

const startOf = (request: RequestFacts, idempotencyKey: string = randomUUID()): StartCommand => ({ request, sealedCurrentPin: null, idempotencyKey, inputHash: 'fingerprint' });
const replyOf = (state: StartedState) => ({
  requestId: state.request.requestId, status: state.status,
  validity: { notBefore: state.request.validity.notBefore, notAfter: state.request.validity.notAfter, capped: false },
});
const generated = (r: RequestFacts, keyId = 'a1b2c3d4'): SagaInput => ({
  type: 'TokenKeyGenerated', agentId: AGENT, data: { requestId: r.requestId, tokenSerial: r.token.serial, keyId, algorithm: 'EC-P256', csr: 'MIIBY3Ny', evidence },
});
const generationFailed = (r: RequestFacts): SagaInput => ({
  type: 'TokenKeyGenerationFailed', agentId: AGENT, data: { requestId: r.requestId, tokenSerial: r.token.serial, code: 'pin-policy', message: 'too short' },
});
const by = (r: RequestFacts) => ({ requestId: r.requestId });
/** One delivery of a fresh message (its redeliveries reuse the returned meta). */
const message = (): InputMeta => {
  const id = randomUUID();
  return { inbox: { consumer: 'issuance-agent-events', messageId: id }, causationId: id };
};
/** What a call came to: its outcome, or the code of the error it threw. */
const outcomeOf = (p: Promise<HandleResult>) => p.then((r) => r.outcome, (e: AppError) => e.code);

describe('HardwareKeyProcessManager (one load and one statement a step)', () => {
  let db: TestDatabase;
  let ds: DataSource;
  let uow: HookedUnitOfWork;
  let sagas: HardwareKeyProcessManager;
  const dispatched: OutgoingMessage[] = [];

  beforeAll(async () => {
    db = await createTestDatabase('issuance_steps');
    ds = await openDatabase({ url: db.url, applicationName: 'issuance-steps-test', entities: issuanceEntities, migrations: issuanceMigrations });
    uow = new HookedUnitOfWork(ds);
    uow.dispatchTo({ dispatch: (messages) => { dispatched.push(...messages); } });
    sagas = new HardwareKeyProcessManager(ds, uow, () => new Date(), { agentStepMs: 120_000, caStepMs: 30_000 });
  });

  afterEach(() => { uow.beforeWrite = undefined; });

  afterAll(async () => {
    await ds?.destroy();
    await db?.drop();
  });

  const marks = async (meta: InputMeta) => Number((await ds.query('SELECT count(*) AS n FROM inbox WHERE message_id = $1', [meta.inbox!.messageId]))[0].n);
  const outboxOf = async (meta: InputMeta) => ((await ds.query("SELECT message_id FROM outbox WHERE envelope->>'causationId' = $1 ORDER BY seq", [meta.causationId])) as Array<{ message_id: string }>).map((r) => r.message_id);
  const dispatchedOf = (meta: InputMeta) => dispatched.filter((m) => m.envelope.causationId === meta.causationId).map((m) => m.envelope.id);
  /** Two deliveries of `m` (the key generated), both loaded before either writes: one applies, the other does not. */
  const deliverTwiceAtOnce = async (request: RequestFacts, m: InputMeta) => {
    uow.beforeWrite = together(2);
    const outcomes = await Promise.all([1, 2].map(() => outcomeOf(sagas.handle(by(request), generated(request), m))));
    expect(outcomes.sort()).toEqual(['applied', expect.stringMatching(/^(duplicate|issuance\.concurrent-update)$/)]);
  };
  const started = async () => {
    const request = facts();
    const result = await sagas.start(startOf(request), replyOf);
    if (!result.created) throw new Error('the saga did not start');
    return { request, row: result.row };
  };

  describe('start', () => {
    it('writes the saga and its first messages in one statement, dispatches them, and loads back what it wrote', async () => {
      const { request, row } = await started();
      expect(await sagas.load(request.requestId)).toEqual(row);
      await expect(sagas.findByIdempotencyKey(request.userId, row.idempotencyKey)).resolves.toEqual(row);
      const outbox: Array<{ message_id: string; subject: string }> = await ds.query("SELECT message_id, subject FROM outbox WHERE envelope->>'correlationId' = $1 ORDER BY seq", [request.requestId]);
      expect(outbox.map((o) => o.subject)).toEqual([
        `agent.${AGENT}.cmd.generate-token-key.v1`, 'issuance.evt.hardware-key-requested.v1',
        'issuance.evt.hardware-key-request-progressed.v1', 'issuance.evt.hardware-key-request-progressed.v1',
      ]);
      expect(dispatched.filter((m) => m.envelope.correlationId === request.requestId).map((m) => m.envelope.id)).toEqual(outbox.map((o) => o.message_id));
    });

    it('starts one saga with one set of outbox rows when two starts under one idempotency key write at once', async () => {
      const [first, second] = [facts(), facts()];
      second.userId = first.userId;
      uow.beforeWrite = together(2);
      const results = await Promise.all([sagas.start(startOf(first, 'key-1'), replyOf), sagas.start(startOf(second, 'key-1'), replyOf)]);
      const winner = results.find((r) => r.created);
      const loser = results.find((r) => !r.created);
      if (!winner?.created || !loser || loser.created) throw new Error(`expected one start created and one not: ${JSON.stringify(results.map((r) => r.created))}`);
      expect(loser.existing.requestId).toBe(winner.row.requestId);
      const rows: Array<{ id: string; n: string }> = await ds.query(
        "SELECT envelope->>'correlationId' AS id, count(*) AS n FROM outbox WHERE envelope->>'correlationId' = ANY($1) GROUP BY 1", [[first.requestId, second.requestId]],
      );
      expect(rows).toEqual([{ id: winner.row.requestId, n: '4' }]);
    });
  });

  describe('handle', () => {
    it('applies a message delivered twice at once only once: the state advances once, with one mark and one set of outbox rows', async () => {
      const { request, row } = await started();
      const m = message();
      await deliverTwiceAtOnce(request, m);
      const after = (await sagas.load(request.requestId))!;
      expect(after).toMatchObject({ version: row.version + 1, status: 'certificate-issuing' });
      expect(after.state.steps.map((s) => s.state)).toEqual(['requested', 'key-generating', 'key-generated', 'certificate-issuing']);
      expect(await marks(m)).toBe(1);
      const outbox = await outboxOf(m);
      expect(outbox).toHaveLength(3); // IssueCertificate and two progress events
      expect(dispatchedOf(m)).toEqual(outbox);
      // The one that lost is redelivered: it sees the mark and writes nothing.
      await expect(sagas.handle(by(request), generated(request), m)).resolves.toEqual({ outcome: 'duplicate' });
      expect(await outboxOf(m)).toEqual(outbox);
    });

    it('applies a late reply (messages, no state change) delivered twice at once only once, moving the version alone', async () => {
      const { request } = await started();
      await expect(sagas.handle(by(request), generationFailed(request), message())).resolves.toEqual({ outcome: 'applied', status: 'failed' });
      const failed = (await sagas.load(request.requestId))!;
      const m = message();
      await deliverTwiceAtOnce(request, m);
      const after = (await sagas.load(request.requestId))!;
      expect(after).toEqual({ ...failed, version: failed.version + 1 });
      const subjects: Array<{ subject: string }> = await ds.query("SELECT subject FROM outbox WHERE envelope->>'causationId' = $1", [m.causationId]);
      expect(subjects).toEqual([{ subject: `agent.${AGENT}.cmd.destroy-token-key.v1` }]);
      expect(await marks(m)).toBe(1);
    });

    it('writes neither the inbox mark nor outbox rows when the saga changed between its load and its write, and applies the redelivery', async () => {
      const { request, row } = await started();
      const m = message();
      // A rival before each write: the one on the row as this process wrote it, then the one after the load.
      let rivals = 2;
      uow.beforeWrite = async () => {
        if (--rivals === 0) uow.beforeWrite = undefined;
        await ds.query('UPDATE hardware_key_requests SET version = version + 1 WHERE request_id = $1', [request.requestId]);
      };
      await expect(sagas.handle(by(request), generated(request), m)).rejects.toMatchObject({ code: 'issuance.concurrent-update', retryable: true });
      expect(await marks(m)).toBe(0);
      expect(await outboxOf(m)).toEqual([]);
      expect(dispatchedOf(m)).toEqual([]);
      await expect(sagas.load(request.requestId)).resolves.toMatchObject({ version: row.version + 2, status: 'key-generating' });

      await expect(sagas.handle(by(request), generated(request), m)).resolves.toEqual({ outcome: 'applied', status: 'certificate-issuing' });
      expect(await marks(m)).toBe(1);
      expect(await outboxOf(m)).toHaveLength(3);
    });

    it('decides a step on the row as this process wrote it: one statement and no load, the same outcome as after a load', async () => {
      const { request, row } = await started();
      const loads = jest.spyOn(ds, 'query');
      const m = message();
      const statements = uow.statements;
      try {
        await expect(sagas.handle(by(request), generated(request), m)).resolves.toEqual({ outcome: 'applied', status: 'certificate-issuing' });
        expect(loads.mock.calls.filter(([sql]) => /FROM hardware_key_requests r/.test(String(sql)))).toEqual([]);
        expect(loads).not.toHaveBeenCalled();
        expect(uow.statements - statements).toBe(1);
      } finally {
        loads.mockRestore();
      }
      const after = (await sagas.load(request.requestId))!;
      expect(after).toMatchObject({ version: row.version + 1, status: 'certificate-issuing' });
      expect(await marks(m)).toBe(1);
      expect(await outboxOf(m)).toHaveLength(3);
      // The same message again: the remembered row would apply nothing new, so it is loaded and found marked.
      await expect(sagas.handle(by(request), generated(request), m)).resolves.toEqual({ outcome: 'duplicate' });
      await expect(sagas.load(request.requestId)).resolves.toEqual(after);
    });

    it('decides afresh on the stored row when another replica moved the saga on: the remembered row writes nothing', async () => {
      const { request } = await started();
      const replicaUow = new UnitOfWork(ds);
      replicaUow.dispatchTo({ dispatch: () => undefined });
      const replica = new HardwareKeyProcessManager(ds, replicaUow, () => new Date(), { agentStepMs: 120_000, caStepMs: 30_000 });
      const first = message();
      await expect(replica.handle(by(request), generated(request), first)).resolves.toEqual({ outcome: 'applied', status: 'certificate-issuing' });
      const moved = (await sagas.load(request.requestId))!;
      // The agent reporting the same key again under a new id: on the row this process remembers (key-generating)
      // it would apply; on the stored one (certificate-issuing) it is an ignored duplicate.
      const again = message();
      await expect(sagas.handle(by(request), generated(request), again)).resolves.toEqual({ outcome: 'ignored', reason: 'duplicate TokenKeyGenerated' });
      await expect(sagas.load(request.requestId)).resolves.toEqual(moved);
      expect(await outboxOf(again)).toEqual([]);
      expect(dispatchedOf(again)).toEqual([]);
      expect(await marks(again)).toBe(1);
    });

    it('writes nothing when a delivery that changed no row marked the message between this one\'s load and write', async () => {
      const { request, row } = await started();
      const m = message();
      // What a concurrent delivery of the same message leaves when the saga ignored it: the mark alone, no
      // version moved, so the optimistic UPDATE cannot stop this one; the inbox key must.
      uow.beforeWrite = async () => {
        uow.beforeWrite = undefined;
        await ds.query('INSERT INTO inbox (consumer, message_id) VALUES ($1, $2)', [m.inbox!.consumer, m.inbox!.messageId]);
      };
      await expect(sagas.handle(by(request), generated(request), m)).resolves.toEqual({ outcome: 'duplicate' });
      await expect(sagas.load(request.requestId)).resolves.toEqual(row);
      expect(await outboxOf(m)).toEqual([]);
      expect(dispatchedOf(m)).toEqual([]);
    });

    it('leaves the inbox mark of an ignored input, and nothing else: its redelivery is a duplicate', async () => {
      const { request } = await started();
      await sagas.handle(by(request), generated(request), message());
      const before = (await sagas.load(request.requestId))!;
      const again = message(); // the agent reporting the same key under a new message id
      await expect(sagas.handle(by(request), generated(request), again)).resolves.toEqual({ outcome: 'ignored', reason: 'duplicate TokenKeyGenerated' });
      expect(await marks(again)).toBe(1);
      expect(await outboxOf(again)).toEqual([]);
      await expect(sagas.load(request.requestId)).resolves.toEqual(before);
      await expect(sagas.handle(by(request), generated(request), again)).resolves.toEqual({ outcome: 'duplicate' });
    });

    it('leaves the inbox mark of a message for no known request: its redelivery is a duplicate', async () => {
      const request = facts();
      const m = message();
      await expect(sagas.handle(by(request), generated(request), m)).resolves.toEqual({ outcome: 'unknown-request' });
      expect(await marks(m)).toBe(1);
      await expect(sagas.handle(by(request), generated(request), m)).resolves.toEqual({ outcome: 'duplicate' });
    });

    it('refuses a message of another agent, writing nothing', async () => {
      const { request, row } = await started();
      const m = message();
      await expect(sagas.handle(by(request), { ...generated(request), agentId: 'mallory' } as SagaInput, m)).rejects.toMatchObject({ code: 'issuance.message-refused', retryable: false });
      expect(await marks(m)).toBe(0);
      await expect(sagas.load(request.requestId)).resolves.toEqual(row);
    });

    it('sends NOTIFY with each write when its unit of work has no dispatcher', async () => {
      const notifying = new HardwareKeyProcessManager(ds, new UnitOfWork(ds), () => new Date(), { agentStepMs: 120_000, caStepMs: 30_000 });
      const listener = new pg.Client({ connectionString: db.url });
      await listener.connect();
      try {
        await listener.query(`LISTEN ${OUTBOX_CHANNEL}`);
        const notified = () => new Promise<string>((resolve, reject) => {
          const timer = setTimeout(() => reject(new Error('no NOTIFY within 5 s')), 5_000);
          listener.once('notification', (n) => { clearTimeout(timer); resolve(n.channel); });
        });
        const request = facts();
        const onStart = notified();
        await notifying.start(startOf(request), replyOf);
        await expect(onStart).resolves.toBe(OUTBOX_CHANNEL);
        const onStep = notified();
        await expect(notifying.handle(by(request), generated(request), message())).resolves.toMatchObject({ outcome: 'applied' });
        await expect(onStep).resolves.toBe(OUTBOX_CHANNEL);
      } finally {
        await listener.end();
      }
    });
  });
});
