import { randomUUID } from 'node:crypto';
import {
  HardwareKeyRequestFailedV1, HardwareKeyRequestedV1, KeyStatusChangedV1, TemporaryHardwareKeyFormedV1, type Envelope,
} from '@thk/contracts';
import { createLogger } from '@thk/core';
import { createEnvelope, type OutgoingMessage } from '@thk/messaging';
import { UnitOfWork, openDatabase, type InboxKey, type Transaction, type UnitOfWorkResult } from '@thk/persistence';
import { createTestDatabase, type TestDatabase } from '@thk/testing';
import type { DataSource } from 'typeorm';
import { accountsEntities, accountsMigrations } from '../persistence/index.js';
import { eventually } from '../testing/accounts-harness.js';
import { TOKEN, temporaryRequest, type TemporaryRequest } from '../testing/events.js';
import { seedKey, seedUser } from '../testing/seed.js';
import { HardwareKeyEvents } from './hardware-key-events.service.js';
import { KeyLifecycle } from './key-lifecycle.service.js';

/**
 * A unit of work that can keep its next transaction (or single statement) open, its work done, until
 * released: where a rival gets in.
 */
class HoldingUnitOfWork extends UnitOfWork {
  private next: { reached: () => void; released: Promise<void> } | undefined;
  /** Transactions (`run`) and single statements (`runStatement`) begun. */
  readonly calls = { runs: 0, statements: 0 };

  constructor(private readonly ds: DataSource) {
    super(ds);
  }

  /** The next transaction or statement stops just before its commit (a statement runs in a transaction of its own for it): `reached` resolves there, `release` lets it commit. */
  holdNext(): { reached: Promise<void>; release: () => void } {
    let reached!: () => void;
    let release!: () => void;
    const reachedAt = new Promise<void>((resolve) => { reached = resolve; });
    this.next = { reached, released: new Promise((resolve) => { release = resolve; }) };
    return { reached: reachedAt, release };
  }

  override run<T>(work: (tx: Transaction) => Promise<T>, options: { inbox?: InboxKey } = {}): Promise<UnitOfWorkResult<T>> {
    this.calls.runs++;
    const hold = this.next;
    this.next = undefined;
    if (!hold) return super.run(work, options);
    return super.run(async (tx) => {
      const value = await work(tx);
      hold.reached();
      await hold.released;
      return value;
    }, options);
  }

  protected override async statement(sql: string, params: unknown[]): Promise<unknown[]> {
    this.calls.statements++;
    const hold = this.next;
    this.next = undefined;
    if (!hold) return super.statement(sql, params);
    const runner = this.ds.createQueryRunner();
    await runner.connect();
    try {
      await runner.startTransaction();
      const rows: unknown[] = await runner.query(sql, params);
      hold.reached();
      await hold.released;
      await runner.commitTransaction();
      return rows;
    } catch (error) {
      if (runner.isTransactionActive) await runner.rollbackTransaction();
      throw error;
    } finally {
      await runner.release();
    }
  }
}

type EventName = 'requested' | 'formed' | 'failed';

describe('HardwareKeyEvents', () => {
  let db: TestDatabase;
  let ds: DataSource;
  let uow: HoldingUnitOfWork;
  let events: HardwareKeyEvents;
  let base: { userId: string; keyId: string };
  const dispatched: OutgoingMessage[] = [];

  beforeAll(async () => {
    db = await createTestDatabase('accounts_hardware_key_events');
    ds = await openDatabase({ url: db.url, applicationName: 'accounts-hardware-key-events-test', entities: accountsEntities, migrations: accountsMigrations });
    uow = new HoldingUnitOfWork(ds);
    uow.dispatchTo({ dispatch: (messages) => { dispatched.push(...messages); } });
    const log = createLogger('accounts', { level: 'silent' });
    const clock = () => new Date();
    events = new HardwareKeyEvents(uow, new KeyLifecycle(uow, clock, log), clock, log);
    const userId = await seedUser(ds);
    base = { userId, keyId: await seedKey(ds, { userId, createdAt: new Date() }) };
  });

  afterAll(async () => {
    await ds?.destroy();
    await db?.drop();
  });

  const meta = { source: 'test', correlationId: randomUUID() };
  /** The three events of one request, as the issuance saga would emit them. */
  const envelopesOf = (r: TemporaryRequest): { [E in EventName]: Envelope } => {
    const now = new Date();
    const validity = { option: 'P1W' as const, notBefore: now.toISOString(), notAfter: new Date(now.getTime() + 7 * 86_400_000).toISOString(), capped: false, cappedBy: null };
    const certificate = {
      serialNumber: randomUUID().replace(/-/g, ''), subject: 'CN=Тест', issuer: 'CN=THK Test Issuing CA',
      notBefore: now.toISOString(), notAfter: validity.notAfter, der: Buffer.from('3003020101', 'hex').toString('base64'),
    };
    return {
      requested: createEnvelope(HardwareKeyRequestedV1, { ...r, validity, token: TOKEN, algorithm: 'EC-P256', requestedAt: now.toISOString() }, meta),
      formed: createEnvelope(TemporaryHardwareKeyFormedV1, { ...r, token: TOKEN, tokenKeyId: 'a1b2c3d4', algorithm: 'EC-P256', certificate, formedAt: now.toISOString() }, meta),
      failed: createEnvelope(HardwareKeyRequestFailedV1, { ...r, code: 'agent-timeout', detail: 'the agent did not answer in time', failedAt: now.toISOString() }, meta),
    };
  };
  const deliver = (name: EventName, envelope: Envelope): Promise<boolean> => events[name](envelope as never);

  /**
   * `first`, then `second`; at once: `first` done but not committed while `second` runs, and released only
   * when `second` waits for a lock (the key's row, or the primary key of the row `first` is inserting).
   */
  const race = async (first: () => Promise<boolean>, second: () => Promise<boolean>, atOnce: boolean): Promise<boolean[]> => {
    if (!atOnce) return [await first(), await second()];
    const hold = uow.holdNext();
    const firstDone = first();
    await hold.reached;
    const secondDone = second();
    await eventually(async () => {
      const [waiting]: Array<{ n: number }> = await ds.query(`SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'`);
      return waiting!.n;
    }, (n) => n > 0);
    hold.release();
    return Promise.all([firstDone, secondDone]);
  };

  const row = async (id: string) => {
    const rows: Array<Record<string, unknown>> = await ds.query(
      'SELECT status, failure_code, token_serial, cert_serial IS NOT NULL AS certified, request_id, version FROM key_accounts WHERE id = $1', [id],
    );
    return rows[0];
  };
  const transitions = (keyId: string) => dispatched
    .filter((m) => m.envelope.type === KeyStatusChangedV1.type && (m.envelope.data as KeyStatusChangedV1).keyId === keyId)
    .map((m) => {
      const e = m.envelope.data as KeyStatusChangedV1;
      return `${e.previousStatus ?? '∅'}→${e.status}${e.reason ? ` (${e.reason})` : ''}`;
    });
  const marks = async (envelope: Envelope) => ((await ds.query('SELECT count(*)::int AS n FROM inbox WHERE message_id = $1', [envelope.id])) as Array<{ n: number }>)[0]!.n;

  const FAILED = 'pending→failed (agent-timeout)';
  const cases: Array<{ first: EventName; second: EventName; key: 'absent' | 'pending'; ends: Record<string, unknown>; transitions: string[] }> = [
    { first: 'requested', second: 'formed', key: 'absent', ends: { status: 'active', certified: true, token_serial: TOKEN.serial, version: 2 }, transitions: ['∅→pending', 'pending→active'] },
    { first: 'requested', second: 'failed', key: 'absent', ends: { status: 'failed', failure_code: 'agent-timeout', token_serial: TOKEN.serial, version: 2 }, transitions: ['∅→pending', FAILED] },
    { first: 'formed', second: 'requested', key: 'absent', ends: { status: 'active', certified: true, token_serial: TOKEN.serial, version: 1 }, transitions: ['∅→active'] },
    { first: 'formed', second: 'failed', key: 'absent', ends: { status: 'active', certified: true, failure_code: null, version: 1 }, transitions: ['∅→active'] },
    // Requested fills in the token that only it carries; the status stays.
    { first: 'failed', second: 'requested', key: 'absent', ends: { status: 'failed', failure_code: 'agent-timeout', token_serial: TOKEN.serial, version: 1 }, transitions: ['∅→failed (agent-timeout)'] },
    { first: 'failed', second: 'formed', key: 'absent', ends: { status: 'failed', certified: false, token_serial: null, version: 1 }, transitions: ['∅→failed (agent-timeout)'] },
    { first: 'formed', second: 'failed', key: 'pending', ends: { status: 'active', certified: true, failure_code: null, version: 2 }, transitions: ['∅→pending', 'pending→active'] },
    { first: 'failed', second: 'formed', key: 'pending', ends: { status: 'failed', certified: false, failure_code: 'agent-timeout', version: 2 }, transitions: ['∅→pending', FAILED] },
  ];

  describe('Requested, Formed and Failed of one key', () => {
    describe.each([['in turn', false], ['at once', true]] as const)('%s', (_mode, atOnce) => {
      it.each(cases)('ends $ends.status when $first then $second arrive for a key $key', async ({ first, second, key, ends, transitions: expected }) => {
        const r = temporaryRequest(base);
        const envelopes = envelopesOf(r);
        if (key === 'pending') await deliver('requested', envelopes.requested);
        await expect(race(() => deliver(first, envelopes[first]), () => deliver(second, envelopes[second]), atOnce)).resolves.toEqual([true, true]);
        expect(await row(r.keyAccountId)).toMatchObject({ ...ends, request_id: r.requestId });
        expect(transitions(r.keyAccountId)).toEqual(expected);
      });
    });

    it('applies a Formed delivered twice at once once: the second delivery waits for the first and is a duplicate', async () => {
      const r = temporaryRequest(base);
      const envelopes = envelopesOf(r);
      await deliver('requested', envelopes.requested);
      await expect(race(() => deliver('formed', envelopes.formed), () => deliver('formed', envelopes.formed), true)).resolves.toEqual([true, false]);
      expect(await row(r.keyAccountId)).toMatchObject({ status: 'active', version: 2 });
      expect(transitions(r.keyAccountId)).toEqual(['∅→pending', 'pending→active']);
    });
  });

  describe('a base key blocked while its temporary key is formed', () => {
    const lifecycle = () => new KeyLifecycle(uow, () => new Date(), createLogger('accounts', { level: 'silent' }));
    it.each([['Formed', 'the block'], ['the block', 'Formed']] as const)('leaves the new key blocked when %s commits while %s waits', async (first, _waiting) => {
      const userId = await seedUser(ds);
      const own = { userId, keyId: await seedKey(ds, { userId, createdAt: new Date() }) };
      const r = temporaryRequest(own);
      const envelopes = envelopesOf(r);
      await deliver('requested', envelopes.requested);
      const formed = () => deliver('formed', envelopes.formed);
      const block = async () => (await lifecycle().block(own.keyId, 'operator-1', 'test')).changed;
      await expect(race(first === 'Formed' ? formed : block, first === 'Formed' ? block : formed, true)).resolves.toEqual([true, true]);
      expect(await row(own.keyId)).toMatchObject({ status: 'blocked' });
      expect(await row(r.keyAccountId)).toMatchObject({ status: 'blocked', certified: true });
    });
  });

  describe('a refused event', () => {
    it('writes nothing, not even its inbox mark, when the key belongs to another user', async () => {
      const r = temporaryRequest(base);
      await deliver('requested', envelopesOf(r).requested);
      const forged = envelopesOf({ ...r, userId: await seedUser(ds) });
      for (const name of ['requested', 'formed', 'failed'] as const) {
        await expect(deliver(name, forged[name])).rejects.toMatchObject({ code: 'accounts.key-owner-mismatch' });
        expect(await marks(forged[name])).toBe(0);
      }
      expect(await row(r.keyAccountId)).toMatchObject({ status: 'pending', version: 1 });
      expect(transitions(r.keyAccountId)).toEqual(['∅→pending']);
    });

    it('writes nothing, not even its inbox mark, when it is the first of a key whose base key is not the user\'s', async () => {
      const r = { ...temporaryRequest(base), userId: await seedUser(ds) };
      const envelopes = envelopesOf(r);
      for (const name of ['requested', 'formed', 'failed'] as const) {
        await expect(deliver(name, envelopes[name])).rejects.toMatchObject({ code: 'accounts.base-key-unknown' });
        expect(await marks(envelopes[name])).toBe(0);
      }
      expect(await row(r.keyAccountId)).toBeUndefined();
    });
  });

  describe('Requested of a new key', () => {
    it('writes the row, its mark and its announcement in one statement, no transaction; again, it is a duplicate', async () => {
      const r = temporaryRequest(base);
      const { requested } = envelopesOf(r);
      const before = { ...uow.calls };
      await expect(deliver('requested', requested)).resolves.toBe(true);
      expect(uow.calls).toEqual({ runs: before.runs, statements: before.statements + 1 });
      expect(await row(r.keyAccountId)).toMatchObject({ status: 'pending', token_serial: TOKEN.serial, request_id: r.requestId, version: 1 });
      expect(await marks(requested)).toBe(1);
      expect(transitions(r.keyAccountId)).toEqual(['∅→pending']);

      await expect(deliver('requested', requested)).resolves.toBe(false);
      expect(await row(r.keyAccountId)).toMatchObject({ status: 'pending', version: 1 });
      expect(transitions(r.keyAccountId)).toEqual(['∅→pending']);
    });
  });
});
