import { Controller, Inject, Module, type INestMicroservice } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { Ctx, EventPattern, Payload } from '@nestjs/microservices';
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { KeyStatusChangedV1, type Envelope, type KeyStatusChangedV1 as KeyStatusChanged } from '@thk/contracts';
import { AppError } from '@thk/core';
import {
  JetStreamContext, JetStreamServer, MessagePublisher, PassthroughRpcExceptionFilter, createEnvelope, defaultStreamSpecs, provisionStreams,
  type ConsumerSpec, type DeadLetter, type ProvisioningOptions,
} from '@thk/messaging';
import { containersAvailable, createTestDatabase, startTestNats, type TestDatabase, type TestNats } from '@thk/testing';
import { randomUUID } from 'node:crypto';
import type { DataSource, MigrationInterface, QueryRunner } from 'typeorm';
import { MessagingTables1764800000000, OutboxRelay, UnitOfWork, openDatabase, type OutboxRelayOptions } from './index.js';

class EffectsTable1764800000001 implements MigrationInterface {
  name = 'EffectsTable1764800000001';
  async up(q: QueryRunner): Promise<void> {
    await q.query('CREATE TABLE effects (id bigserial PRIMARY KEY, message_id uuid NOT NULL, replica text NOT NULL)');
  }
  async down(q: QueryRunner): Promise<void> { await q.query('DROP TABLE effects'); }
}

const DURABLE = 'test-key-status';
const localNats = !(await containersAvailable());
const consumer = (overrides: Partial<ConsumerSpec> = {}): ConsumerSpec => ({
  stream: 'ACCOUNTS', durable: DURABLE, filterSubject: KeyStatusChangedV1.subjectPattern, maxDeliver: 3, concurrency: 4, ...overrides,
});

/** Behaviour a test can switch on to play a crash or a failing handler. */
interface Script {
  /** Called when the handler starts, before its transaction. */
  before?: (envelope: Envelope<KeyStatusChanged>, replica: string, delivery: number) => Promise<void>;
  /** Called after the transaction committed, before the handler returns (i.e. before the ack). */
  afterCommit?: (envelope: Envelope<KeyStatusChanged>, replica: string, delivery: number) => Promise<void>;
}

const UOW = Symbol('UOW');
const REPLICA = Symbol('REPLICA');
const SCRIPT = Symbol('SCRIPT');

@Controller()
class EffectsController {
  constructor(@Inject(UOW) private readonly uow: UnitOfWork, @Inject(REPLICA) private readonly replica: string, @Inject(SCRIPT) private readonly script: Script) {}

  @EventPattern<string>(KeyStatusChangedV1.subjectPattern)
  async onKeyStatusChanged(@Payload() envelope: Envelope<KeyStatusChanged>, @Ctx() ctx: JetStreamContext): Promise<void> {
    await this.script.before?.(envelope, this.replica, ctx.getDeliveryCount());
    await this.uow.run(async (tx) => {
      await tx.manager.query('INSERT INTO effects (message_id, replica) VALUES ($1, $2)', [envelope.id, this.replica]);
    }, { inbox: { consumer: DURABLE, messageId: envelope.id } });
    await this.script.afterCommit?.(envelope, this.replica, ctx.getDeliveryCount());
  }
}

async function startReplica(natsUrl: string, ds: DataSource, replica: string, script: Script = {}, spec: ConsumerSpec = consumer(), provisioning: ProvisioningOptions = {}): Promise<{ app: INestMicroservice; server: JetStreamServer }> {
  @Module({
    controllers: [EffectsController],
    providers: [{ provide: UOW, useValue: new UnitOfWork(ds) }, { provide: REPLICA, useValue: replica }, { provide: SCRIPT, useValue: script }],
  })
  class EffectsModule {}
  const server = new JetStreamServer({ service: `test-${replica}`, connection: { servers: natsUrl, name: replica }, streams: defaultStreamSpecs(), provisioning, consumers: [spec], backoffMs: [50], shutdownTimeoutMs: 1_000 });
  const app = await NestFactory.createMicroservice(EffectsModule, { strategy: server, logger: false });
  app.useGlobalFilters(new PassthroughRpcExceptionFilter());
  await app.listen();
  return { app, server };
}

/** A publisher whose every publish waits a few milliseconds first. */
class SlowPublisher extends MessagePublisher {
  override async publish(subject: string, envelope: Envelope): ReturnType<MessagePublisher['publish']> {
    await new Promise((r) => setTimeout(r, 15));
    return super.publish(subject, envelope);
  }
}

/** A publisher that refuses the first publish of each of the given message ids (a NATS hiccup). */
class FailingOncePublisher extends MessagePublisher {
  readonly refused = new Set<string>();
  constructor(nc: NatsConnection, private readonly ids: ReadonlySet<string>) { super(nc); }
  override async publish(subject: string, envelope: Envelope): ReturnType<MessagePublisher['publish']> {
    if (this.ids.has(envelope.id) && !this.refused.has(envelope.id)) {
      this.refused.add(envelope.id);
      throw new Error('simulated: no PubAck');
    }
    return super.publish(subject, envelope);
  }
}

function keyStatusEnvelope(): Envelope<KeyStatusChanged> {
  return createEnvelope(KeyStatusChangedV1, {
    keyId: randomUUID(), userId: randomUUID(), baseKeyId: null, previousStatus: 'pending', status: 'active', reason: null, at: new Date().toISOString(),
  }, { source: 'test', correlationId: randomUUID() });
}

async function eventually<T>(probe: () => Promise<T>, ok: (v: T) => boolean, timeoutMs = 15_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last = await probe();
  while (!ok(last)) {
    if (Date.now() > deadline) throw new Error(`condition not met within ${timeoutMs} ms; last value: ${JSON.stringify(last)}`);
    await new Promise((r) => setTimeout(r, 50));
    last = await probe();
  }
  return last;
}

describe('outbox → JetStream → consumer → inbox', () => {
  let nats: TestNats;
  let db: TestDatabase;
  let ds: DataSource;
  let nc: NatsConnection;
  let publisher: MessagePublisher;
  const running: Array<{ app: INestMicroservice }> = [];

  const effects = async () => (await ds.query('SELECT message_id, replica FROM effects')) as Array<{ message_id: string; replica: string }>;
  const waitForEffects = (n: number) => eventually(effects, (rows) => rows.length >= n);
  const relays: OutboxRelay[] = [];
  const stopAll = async () => {
    while (running.length) await running.pop()!.app.close();
    while (relays.length) await relays.pop()!.stop();
  };
  /** An outbox relay for this test (stopped after it). */
  const startRelay = async (options: Partial<OutboxRelayOptions> = {}) => {
    const relay = new OutboxRelay({ databaseUrl: db.url, publisher, pollIntervalMs: 200, ...options });
    relays.push(relay);
    await relay.start();
    return relay;
  };
  /** Emits through the outbox: one committed transaction with these messages. */
  const emit = async (...envelopes: Envelope[]) => {
    await new UnitOfWork(ds).run(async (tx) => { for (const envelope of envelopes) tx.emit({ subject: KeyStatusChangedV1.subject(), envelope }); });
  };
  /** The consumer has settled everything in the stream. */
  const consumerSettled = async () => {
    const jsm = await jetstreamManager(nc);
    const last = (await jsm.streams.info('ACCOUNTS')).state.last_seq;
    return eventually(() => jsm.consumers.info('ACCOUNTS', DURABLE), (i) => i.num_ack_pending === 0 && i.num_pending === 0 && i.delivered.stream_seq >= last, 20_000);
  };

  beforeAll(async () => {
    [nats, db] = await Promise.all([startTestNats(), createTestDatabase('messaging_flow')]);
    ds = await openDatabase({ url: db.url, applicationName: 'test', entities: [], migrations: [MessagingTables1764800000000, EffectsTable1764800000001] });
    nc = await connect({ servers: nats.url });
    await provisionStreams(nc);
    publisher = new MessagePublisher(nc);
  });

  afterEach(async () => {
    await stopAll();
    const jsm = await jetstreamManager(nc);
    await jsm.consumers.delete('ACCOUNTS', DURABLE).catch(() => undefined);
    for (const s of ['ACCOUNTS', 'DEAD_LETTERS']) await jsm.streams.purge(s);
    await ds.query('TRUNCATE effects, inbox, outbox');
  });

  afterAll(async () => {
    await nc?.close();
    await ds?.destroy();
    await db?.drop();
    await nats?.stop();
  });

  it('applies a message once when the outbox publishes it twice, within and beyond JetStream de-duplication', async () => {
    // A 1 s de-duplication window, so that the test can outlive it.
    const provisioning = { duplicateWindowMs: 1_000 };
    running.push(await startReplica(nats.url, ds, 'a', {}, consumer(), provisioning));
    const relay = await startRelay();
    const envelope = keyStatusEnvelope();
    await emit(envelope);
    await waitForEffects(1);
    const jsm = await jetstreamManager(nc);
    const republish = async () => {
      // What a relay crashing between its publish and its mark leaves behind.
      await ds.query('UPDATE outbox SET published_at = NULL WHERE message_id = $1', [envelope.id]);
      relay.kick();
    };
    // Within the window: the relay publishes the row again and JetStream absorbs it.
    await republish();
    await eventually(async () => relay.published, (n) => n === 2);
    expect((await jsm.streams.info('ACCOUNTS')).state.messages).toBe(1);
    // Beyond the window JetStream stores it again and the consumer receives it: the inbox keeps it to one effect.
    await new Promise((r) => setTimeout(r, 1_500));
    await eventually(async () => {
      const messages = (await jsm.streams.info('ACCOUNTS')).state.messages;
      if (messages < 2) await republish(); // until the server has forgotten the id
      return messages;
    }, (n) => n === 2, 20_000);
    const settled = await consumerSettled();
    expect(settled.delivered.stream_seq).toBeGreaterThanOrEqual(2);
    expect(await effects()).toHaveLength(1);
    const [{ n }] = await ds.query('SELECT count(*)::int AS n FROM inbox WHERE message_id = $1', [envelope.id]);
    expect(n).toBe(1);
  });

  it('gives one effect when the consumer dies after its commit but before its ack', async () => {
    const crashed = new Set<string>();
    const kill: { a?: () => Promise<void> } = {};
    const replicaA = await startReplica(nats.url, ds, 'a', {
      afterCommit: async (env) => {
        crashed.add(env.id);
        void kill.a?.();
        await new Promise(() => undefined); // never acks: the process is "gone"
      },
    }, consumer({ ackWaitMs: 1_500 }));
    kill.a = async () => { await (replicaA.server.unwrap<NatsConnection>()).close(); };
    running.push(replicaA);
    await startRelay();
    const envelope = keyStatusEnvelope();
    await emit(envelope);
    await eventually(async () => crashed.size, (n) => n === 1);
    // A second replica takes over the durable; the redelivery finds the inbox mark.
    running.push(await startReplica(nats.url, ds, 'b', {}, consumer({ ackWaitMs: 1_500 })));
    const jsm = await jetstreamManager(nc);
    await eventually(() => jsm.consumers.info('ACCOUNTS', DURABLE), (i) => i.num_ack_pending === 0 && i.num_pending === 0 && i.delivered.stream_seq >= 1, 20_000);
    const rows = await effects();
    expect(rows).toEqual([{ message_id: envelope.id, replica: 'a' }]);
  });

  it('gives one effect per message when a retryable failure after commit forces a redelivery', async () => {
    const seen = new Map<string, number>();
    running.push(await startReplica(nats.url, ds, 'a', {
      afterCommit: async (env, _replica, delivery) => {
        seen.set(env.id, delivery);
        if (delivery === 1) throw new AppError('test.flaky', 'lost the ack', { retryable: true });
      },
    }));
    const envelope = keyStatusEnvelope();
    await publisher.publish(KeyStatusChangedV1.subject(), envelope);
    await eventually(async () => seen.get(envelope.id) ?? 0, (d) => d >= 2);
    expect(await effects()).toHaveLength(1);
  });

  it('shares a durable between two replicas with exactly one effect per message', async () => {
    running.push(await startReplica(nats.url, ds, 'a'), await startReplica(nats.url, ds, 'b'));
    await startRelay();
    const envelopes = Array.from({ length: 60 }, keyStatusEnvelope);
    for (let i = 0; i < envelopes.length; i += 10) await emit(...envelopes.slice(i, i + 10));
    const rows = await waitForEffects(60);
    await consumerSettled();
    const final = await effects();
    expect(final).toHaveLength(60);
    expect(new Set(final.map((r) => r.message_id))).toEqual(new Set(envelopes.map((e) => e.id)));
    expect(new Set(rows.map((r) => r.replica)).size).toBe(2);
  });

  it('dead-letters a message that fails its schema, with the reason, and goes on', async () => {
    // A short ack_wait: a TERM the server ignored would show as a redelivery within the wait below.
    running.push(await startReplica(nats.url, ds, 'a', {}, consumer({ ackWaitMs: 1_000 })));
    const bad = { ...keyStatusEnvelope(), data: { keyId: 'not-a-uuid', status: 'sideways' } };
    await publisher.publish(KeyStatusChangedV1.subject(), bad as Envelope);
    const good = keyStatusEnvelope();
    await publisher.publish(KeyStatusChangedV1.subject(), good);
    await waitForEffects(1);
    const jsm = await jetstreamManager(nc);
    const info = await eventually(() => jsm.streams.info('DEAD_LETTERS'), (i) => i.state.messages === 1);
    const letter = await jsm.streams.getMessage('DEAD_LETTERS', { seq: info.state.first_seq });
    const parsed = letter!.json<DeadLetter>();
    expect(parsed.code).toBe('messaging.invalid-data');
    expect(parsed.reason).toContain('keyId');
    expect(parsed.consumer).toBe(DURABLE);
    expect(JSON.parse(parsed.original).id).toBe(bad.id);
    expect((await effects()).map((r) => r.message_id)).toEqual([good.id]);
    // The TERM was honoured: after more than two ack_waits nothing is pending or redelivered.
    await new Promise((r) => setTimeout(r, 2_500));
    const consumerInfo = await jsm.consumers.info('ACCOUNTS', DURABLE);
    expect(consumerInfo.num_ack_pending).toBe(0);
    expect(consumerInfo.num_redelivered).toBe(0);
    expect(consumerInfo.num_pending).toBe(0);
  });

  it('acks, unread and not dead-lettered, a message on a subject of its filter that no handler takes', async () => {
    // The filter is wider than the handler's subject, as issuance's `agent.*.evt.>` is.
    running.push(await startReplica(nats.url, ds, 'a', {}, consumer({ filterSubject: 'accounts.evt.>', ackWaitMs: 1_000 })));
    const js = jetstream(nc);
    await js.publish('accounts.evt.someone-elses.v1', new TextEncoder().encode('not even JSON'));
    const good = keyStatusEnvelope();
    await publisher.publish(KeyStatusChangedV1.subject(), good);
    await waitForEffects(1);
    await consumerSettled();
    const jsm = await jetstreamManager(nc);
    const letters = await jsm.streams.info('DEAD_LETTERS').then((i) => i.state.messages, () => 0);
    expect(letters).toBe(0);
    // Past an ack_wait nothing came back.
    await new Promise((r) => setTimeout(r, 1_500));
    expect((await jsm.consumers.info('ACCOUNTS', DURABLE)).num_redelivered).toBe(0);
    expect((await effects()).map((r) => r.message_id)).toEqual([good.id]);
  });

  it('dead-letters a poison message after its last delivery', async () => {
    running.push(await startReplica(nats.url, ds, 'a', {
      afterCommit: async () => { throw new AppError('test.poison', 'always fails', { retryable: true }); },
    }, consumer({ maxDeliver: 3 })));
    const envelope = keyStatusEnvelope();
    await publisher.publish(KeyStatusChangedV1.subject(), envelope);
    const jsm = await jetstreamManager(nc);
    const info = await eventually(() => jsm.streams.info('DEAD_LETTERS'), (i) => i.state.messages === 1);
    const letter = (await jsm.streams.getMessage('DEAD_LETTERS', { seq: info.state.first_seq }))!.json<DeadLetter>();
    expect(letter.code).toBe('test.poison');
    expect(letter.deliveryCount).toBe(3);
    expect(letter.reason).toContain('gave up after 3 deliveries');
  });

  it('dead-letters a message that crashes its consumer on every delivery instead of losing it to max_deliver', async () => {
    const deliveries: number[] = [];
    const crashing = async (name: string) => {
      const box: { conn?: NatsConnection } = {};
      const replica = await startReplica(nats.url, ds, name, {
        before: async (_env, _replica, delivery) => {
          deliveries.push(delivery);
          void box.conn?.close(); // the process "dies" mid-handler, every time
          await new Promise(() => undefined);
        },
      }, consumer({ maxDeliver: 2, ackWaitMs: 1_000 }));
      box.conn = replica.server.unwrap<NatsConnection>();
      running.push(replica);
    };
    await crashing('a');
    await publisher.publish(KeyStatusChangedV1.subject(), keyStatusEnvelope());
    await eventually(async () => deliveries.length, (n) => n === 1);
    await crashing('b');
    await eventually(async () => deliveries.length, (n) => n === 2, 20_000);
    // The server allows one more delivery than maxDeliver; the consumer spends it on the dead letter.
    await crashing('c');
    const jsm = await jetstreamManager(nc);
    const info = await eventually(() => jsm.streams.info('DEAD_LETTERS'), (i) => i.state.messages === 1, 20_000);
    const letter = (await jsm.streams.getMessage('DEAD_LETTERS', { seq: info.state.first_seq }))!.json<DeadLetter>();
    expect(letter.code).toBe('messaging.max-deliveries');
    expect(letter.deliveryCount).toBe(3);
    expect(deliveries).toEqual([1, 2]);
    expect(await effects()).toHaveLength(0);
    await eventually(() => jsm.consumers.info('ACCOUNTS', DURABLE), (i) => i.num_ack_pending === 0 && i.num_pending === 0);
  });

  it('keeps a message that outlives its ack_wait from being redelivered while its handler still runs', async () => {
    const deliveries: Array<{ replica: string; delivery: number }> = [];
    const slow: Script = {
      before: async (_env, replica, delivery) => {
        deliveries.push({ replica, delivery });
        await new Promise((r) => setTimeout(r, 3_500)); // 3.5 ack_waits
      },
    };
    running.push(await startReplica(nats.url, ds, 'a', slow, consumer({ ackWaitMs: 1_000 })), await startReplica(nats.url, ds, 'b', slow, consumer({ ackWaitMs: 1_000 })));
    await publisher.publish(KeyStatusChangedV1.subject(), keyStatusEnvelope());
    await waitForEffects(1);
    const jsm = await jetstreamManager(nc);
    const info = await eventually(() => jsm.consumers.info('ACCOUNTS', DURABLE), (i) => i.num_ack_pending === 0 && i.num_pending === 0);
    expect(info.num_redelivered).toBe(0);
    expect(deliveries).toHaveLength(1);
    expect(deliveries[0]!.delivery).toBe(1);
    expect(await effects()).toHaveLength(1);
  });

  it('lets a hanging handler\'s message be redelivered once it passes maxHandlerMs, and the effect stays single', async () => {
    const deliveries: number[] = [];
    let firstWokeUp!: () => void;
    const firstDone = new Promise<void>((r) => { firstWokeUp = r; });
    const hangsOnce: Script = {
      before: async (_env, _replica, delivery) => {
        deliveries.push(delivery);
        if (delivery === 1) { await new Promise((r) => setTimeout(r, 4_000)); firstWokeUp(); } // far past maxHandlerMs
      },
    };
    running.push(await startReplica(nats.url, ds, 'a', hangsOnce, consumer({ ackWaitMs: 1_000, maxHandlerMs: 1_500 })));
    await publisher.publish(KeyStatusChangedV1.subject(), keyStatusEnvelope());
    await waitForEffects(1);
    // The redelivery arrived while the first delivery was still hanging, and was applied.
    expect(deliveries.slice(0, 2)).toEqual([1, 2]);
    const jsm = await jetstreamManager(nc);
    await eventually(() => jsm.consumers.info('ACCOUNTS', DURABLE), (i) => i.num_ack_pending === 0 && i.num_pending === 0, 15_000);
    // The hung first delivery goes on to its transaction later: the inbox makes it a duplicate.
    await firstDone;
    await new Promise((r) => setTimeout(r, 500));
    expect(await effects()).toHaveLength(1);
  });

  it('restarts a consume loop that ended (its consumer was deleted) and reports it healthy again', async () => {
    const replica = await startReplica(nats.url, ds, 'a');
    running.push(replica);
    expect(replica.server.healthy()).toBe(true);
    await expect(replica.server.readinessCheck().check()).resolves.toBeUndefined();
    const jsm = await jetstreamManager(nc);
    await jsm.consumers.delete('ACCOUNTS', DURABLE);
    await eventually(async () => replica.server.consumerStatus()[0]!, (s) => s.restarts >= 1 && s.state === 'consuming', 30_000);
    expect(replica.server.healthy()).toBe(true);
    await publisher.publish(KeyStatusChangedV1.subject(), keyStatusEnvelope());
    await waitForEffects(1);
  });

  it('resumes a consumer restarted from scratch at its durable position and misses nothing', async () => {
    const first = await startReplica(nats.url, ds, 'a');
    const before = Array.from({ length: 10 }, keyStatusEnvelope);
    for (const e of before) await publisher.publish(KeyStatusChangedV1.subject(), e);
    await waitForEffects(10);
    await first.app.close();
    const after = Array.from({ length: 10 }, keyStatusEnvelope);
    for (const e of after) await publisher.publish(KeyStatusChangedV1.subject(), e);
    running.push(await startReplica(nats.url, ds, 'b'));
    const rows = await waitForEffects(20);
    await new Promise((r) => setTimeout(r, 300));
    expect(await effects()).toHaveLength(20);
    expect(rows.filter((r) => r.replica === 'b').map((r) => r.message_id).sort()).toEqual(after.map((e) => e.id).sort());
  });

  // Restarting needs the local nats-server process (a container cannot be restarted on the same
  // port and store): where containers are used this test is reported as skipped, not passed.
  (localNats ? it : it.skip)('survives a NATS server restart: the durable and its position persist (local nats-server only)', async () => {
    if (!nats.restart) throw new Error('the local test NATS server offers restart()');
    running.push(await startReplica(nats.url, ds, 'a'));
    await publisher.publish(KeyStatusChangedV1.subject(), keyStatusEnvelope());
    await waitForEffects(1);
    await nats.restart();
    await eventually(async () => { try { await publisher.publish(KeyStatusChangedV1.subject(), keyStatusEnvelope()); return true; } catch { return false; } }, (ok) => ok, 20_000);
    await waitForEffects(2);
    await new Promise((r) => setTimeout(r, 300));
    expect(await effects()).toHaveLength(2);
  });

  describe('OutboxRelay', () => {
    it('publishes every committed outbox row exactly once with two relays running, and the consumer applies each once', async () => {
      running.push(await startReplica(nats.url, ds, 'a'));
      // Each publish takes a little longer than on an idle machine, so that a batch stays claimed
      // while the other relay is woken by the next commit: both relays get work.
      const slow = new SlowPublisher(nc);
      const relayA = await startRelay({ publisher: slow, batchSize: 10 });
      const relayB = await startRelay({ publisher: slow, batchSize: 10 });
      const envelopes = Array.from({ length: 300 }, keyStatusEnvelope);
      // 30 transactions of 10 messages each, racing the relays.
      for (let i = 0; i < envelopes.length; i += 10) await emit(...envelopes.slice(i, i + 10));
      await eventually(async () => relayA.backlog(), (n) => n === 0, 30_000);
      expect(relayA.published).toBeGreaterThan(0);
      expect(relayB.published).toBeGreaterThan(0);
      expect(relayA.published + relayB.published).toBe(300);
      const jsm = await jetstreamManager(nc);
      expect((await jsm.streams.info('ACCOUNTS')).state.messages).toBe(300);
      const [{ n }] = await ds.query('SELECT count(*)::int AS n FROM outbox WHERE published_at IS NOT NULL');
      expect(n).toBe(300);
      await waitForEffects(300);
      await consumerSettled();
      const final = await effects();
      expect(final).toHaveLength(300);
      expect(new Set(final.map((r) => r.message_id))).toEqual(new Set(envelopes.map((e) => e.id)));
    });

    it('keeps publishing, woken by LISTEN again, after the server terminated its connections', async () => {
      const uow = new UnitOfWork(ds);
      // A long poll interval: only a re-established LISTEN can publish within the wait below.
      const relay = new OutboxRelay({ databaseUrl: db.url, publisher, pollIntervalMs: 60_000 });
      await relay.start();
      try {
        const killed: Array<{ pid: number }> = await ds.query(
          "SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND application_name IN ('outbox-relay', 'outbox-listener')");
        expect(killed.length).toBeGreaterThanOrEqual(1);
        await ds.query('SELECT pg_terminate_backend(pid) FROM unnest($1::int[]) AS pid', [killed.map((k) => k.pid)]);
        // A new listener, not one of the terminated backends, has issued its LISTEN.
        const old = new Set(killed.map((k) => k.pid));
        await eventually(async () => (await ds.query("SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND application_name = 'outbox-listener' AND query LIKE 'LISTEN%'")) as Array<{ pid: number }>,
          (rows) => rows.length === 1 && !old.has(rows[0]!.pid));
        await uow.run(async (tx) => { tx.emit({ subject: KeyStatusChangedV1.subject(), envelope: keyStatusEnvelope() }); });
        await eventually(async () => relay.published, (n) => n === 1, 5_000);
      } finally {
        await relay.stop();
      }
    });

    it('publishes a committed transaction\'s messages right after its commit when the relay serves the unit of work, and marks them', async () => {
      const uow = new UnitOfWork(ds);
      // A poll far beyond the wait below, and no NOTIFY in this mode: only the dispatch can publish in time.
      const relay = new OutboxRelay({ databaseUrl: db.url, publisher, pollIntervalMs: 60_000 }).serve(uow);
      relays.push(relay);
      await relay.start();
      const envelopes = [keyStatusEnvelope(), keyStatusEnvelope(), keyStatusEnvelope()];
      await uow.run(async (tx) => { for (const envelope of envelopes) tx.emit({ subject: KeyStatusChangedV1.subject(), envelope }); });
      await eventually(async () => relay.backlog(), (n) => n === 0, 5_000);
      expect(relay.published).toBe(3);
      const jsm = await jetstreamManager(nc);
      const info = await jsm.streams.info('ACCOUNTS');
      expect(info.state.messages).toBe(3);
      const stored = await Promise.all([0, 1, 2].map(async (i) => (await jsm.streams.getMessage('ACCOUNTS', { seq: info.state.first_seq + i }))!.json<Envelope>().id));
      expect(stored).toEqual(envelopes.map((e) => e.id)); // in the transaction's order
      const [{ n }] = await ds.query('SELECT count(*)::int AS n FROM outbox WHERE published_at IS NOT NULL AND attempts = 1');
      expect(n).toBe(3);
    });

    it('marks dispatched messages of several commits in one statement after the mark delay, and what is still unmarked when it stops', async () => {
      const uow = new UnitOfWork(ds);
      const relay = new OutboxRelay({ databaseUrl: db.url, publisher, pollIntervalMs: 60_000, markDelayMs: 60_000 }).serve(uow);
      relays.push(relay);
      await relay.start();
      const envelopes = [keyStatusEnvelope(), keyStatusEnvelope(), keyStatusEnvelope()];
      for (const envelope of envelopes) await uow.run(async (tx) => { tx.emit({ subject: KeyStatusChangedV1.subject(), envelope }); });
      await eventually(async () => relay.published, (n) => n === 3, 5_000);
      const marked = async () => (await ds.query('SELECT count(*)::int AS n FROM outbox WHERE published_at IS NOT NULL'))[0].n as number;
      // Published, and within the delay not yet marked: one UPDATE will mark all three.
      expect(await marked()).toBe(0);
      await relay.stop();
      const rows: Array<{ published_at: Date; attempts: number }> = await ds.query('SELECT published_at, attempts FROM outbox');
      expect(rows).toHaveLength(3);
      expect(rows.every((r) => r.attempts === 1)).toBe(true);
      expect(new Set(rows.map((r) => r.published_at.getTime())).size).toBe(1); // one statement's now()
    });

    it('leaves a message whose publish after commit failed to a later round, past the grace period, exactly once', async () => {
      const uow = new UnitOfWork(ds);
      const unlucky = keyStatusEnvelope();
      const lucky = keyStatusEnvelope();
      const failing = new FailingOncePublisher(nc, new Set([unlucky.id]));
      const relay = new OutboxRelay({ databaseUrl: db.url, publisher: failing, pollIntervalMs: 100, dispatchGraceMs: 700 }).serve(uow);
      relays.push(relay);
      await relay.start();
      const committedAt = Date.now();
      await uow.run(async (tx) => { for (const envelope of [unlucky, lucky]) tx.emit({ subject: KeyStatusChangedV1.subject(), envelope }); });
      await eventually(async () => relay.published, (n) => n === 1, 5_000);
      expect(failing.refused.has(unlucky.id)).toBe(true);
      await eventually(async () => relay.backlog(), (n) => n === 0, 10_000);
      // Not claimed by a round before its grace period ran out (it might still have been in flight).
      expect(Date.now() - committedAt).toBeGreaterThanOrEqual(650);
      expect(relay.published).toBe(2);
      const jsm = await jetstreamManager(nc);
      expect((await jsm.streams.info('ACCOUNTS')).state.messages).toBe(2);
    });

    it('does not publish what a rolled-back transaction emitted', async () => {
      const uow = new UnitOfWork(ds);
      const relay = new OutboxRelay({ databaseUrl: db.url, publisher, pollIntervalMs: 100 });
      await relay.start();
      try {
        await expect(uow.run(async (tx) => { tx.emit({ subject: KeyStatusChangedV1.subject(), envelope: keyStatusEnvelope() }); throw new Error('business rule failed'); })).rejects.toThrow('business rule failed');
        const committed = keyStatusEnvelope();
        await uow.run(async (tx) => { tx.emit({ subject: KeyStatusChangedV1.subject(), envelope: committed }); });
        await eventually(async () => relay.published, (n) => n === 1);
        const jsm = await jetstreamManager(nc);
        const info = await jsm.streams.info('ACCOUNTS');
        expect(info.state.messages).toBe(1);
        const msg = await jsm.streams.getMessage('ACCOUNTS', { seq: info.state.first_seq });
        expect(msg!.json<Envelope>().id).toBe(committed.id);
      } finally {
        await relay.stop();
      }
    });
  });
});
