import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import type { Envelope, KeyStatusChangedV1, MessageContract, MessageData } from '@thk/contracts';
import { createLogger } from '@thk/core';
import { MessagePublisher, RpcClient, createEnvelope } from '@thk/messaging';
import { createTestDatabase, startTestNats, type TestDatabase, type TestNats } from '@thk/testing';
import { randomUUID } from 'node:crypto';
import { startAccounts, type RunningAccounts } from '../accounts.app.js';
import { developmentKek, type AccountsConfig } from '../config/accounts.config.js';
import { TestCa } from './test-ca.js';
import { ISSUANCE_EVENT_DURABLES } from '../keys/hardware-key-events.service.js';

/** A clock a test can move. */
export class TestClock {
  private offsetMs = 0;
  readonly now = (): Date => new Date(Date.now() + this.offsetMs);
  advance(ms: number): void { this.offsetMs += ms; }
  reset(): void { this.offsetMs = 0; }
}

export interface Harness {
  nats: TestNats;
  db: TestDatabase;
  nc: NatsConnection;
  rpc: RpcClient;
  publisher: MessagePublisher;
  ca: TestCa;
  clock: TestClock;
  accounts: RunningAccounts;
  config: AccountsConfig;
  /** Publishes an event as its producer would. */
  publish<C extends MessageContract<string, any, any>>(contract: C, data: MessageData<C>, params?: Parameters<C['subject']>[0]): Promise<Envelope<MessageData<C>>>;
  /** Publishes the same envelope again under another Nats-Msg-Id: a redelivery JetStream cannot de-duplicate. */
  republish(subject: string, envelope: Envelope): Promise<void>;
  /** Waits until the durable has acknowledged everything in its stream. */
  settle(stream: string, durable: string): Promise<void>;
  /** Waits until every issuance-event durable has acknowledged everything in its stream. */
  settleIssuance(): Promise<void>;
  /** KeyStatusChanged events published so far (outbox flushed first). */
  statusEvents(): Promise<KeyStatusChangedV1[]>;
  stop(): Promise<void>;
}

/** Scrypt cheap enough for a test suite; one test runs the production strength on purpose. */
export const TEST_KDF = { log2N: 10, r: 8, p: 1 };

export async function eventually<T>(probe: () => Promise<T>, ok: (v: T) => boolean, timeoutMs = 15_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last = await probe();
  while (!ok(last)) {
    if (Date.now() > deadline) throw new Error(`condition not met within ${timeoutMs} ms; last value: ${JSON.stringify(last)}`);
    await new Promise((r) => setTimeout(r, 25));
    last = await probe();
  }
  return last;
}

/** A running accounts service on a private NATS server and a fresh database, plus a test CA. */
export async function startHarness(prefix: string, overrides: Partial<AccountsConfig> = {}): Promise<Harness> {
  const [nats, db, ca] = await Promise.all([startTestNats(), createTestDatabase(prefix), TestCa.create()]);
  const nc = await connect({ servers: nats.url, name: `${prefix}-test` });
  ca.serve(nc);
  const clock = new TestClock();
  const config: AccountsConfig = {
    nats: { servers: nats.url, name: 'accounts' },
    databaseUrl: db.url,
    httpPort: 0,
    httpHost: '127.0.0.1',
    devMode: true,
    kek: { id: 'test-kek', key: developmentKek() },
    previousKeks: [],
    kdf: TEST_KDF,
    kdfConcurrency: 2,
    kdfMaxQueue: 8,
    maxPasswordAttempts: 5,
    authorizationTtlSeconds: 300,
    sweepIntervalMs: 0,
    caTimeoutMs: 2_000,
    clock: clock.now,
    ...overrides,
  };
  const accounts = await startAccounts(config, { logger: createLogger('accounts', { level: process.env['LOG_LEVEL'] ?? 'error' }) });
  const publisher = new MessagePublisher(nc);
  const js = jetstream(nc);
  const settle = async (stream: string, durable: string): Promise<void> => {
    const jsm = await jetstreamManager(nc);
    await eventually(() => jsm.consumers.info(stream, durable), (i) => i.num_pending === 0 && i.num_ack_pending === 0);
  };
  return {
    nats, db, nc, ca, clock, accounts, config, publisher,
    rpc: new RpcClient(nc, 10_000),
    async publish(contract, data, params) {
      return publisher.emit(contract, params as never, data, { source: 'test', correlationId: randomUUID() });
    },
    async republish(subject, envelope) {
      await js.publish(subject, JSON.stringify(envelope), { msgID: `again-${randomUUID()}` });
    },
    settle,
    async settleIssuance() {
      for (const { durable } of ISSUANCE_EVENT_DURABLES) await settle('ISSUANCE', durable);
    },
    async statusEvents() {
      await accounts.flushOutbox();
      const jsm = await jetstreamManager(nc);
      const info = await jsm.streams.info('ACCOUNTS');
      const events: KeyStatusChangedV1[] = [];
      for (let seq = info.state.first_seq; seq <= info.state.last_seq && info.state.messages > 0; seq++) {
        const m = await jsm.streams.getMessage('ACCOUNTS', { seq }); // null for a deleted sequence; any other error fails the test
        const env = m?.json<Envelope<KeyStatusChangedV1>>();
        if (env?.type === 'KeyStatusChanged') events.push(env.data);
      }
      return events;
    },
    async stop() {
      await accounts.close().catch(() => undefined);
      ca.stop();
      await nc.close().catch(() => undefined);
      await db.drop().catch(() => undefined);
      await nats.stop().catch(() => undefined);
    },
  };
}

export { createEnvelope };
