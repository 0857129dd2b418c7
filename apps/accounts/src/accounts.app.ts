import 'reflect-metadata';
import type { NatsConnection } from '@nats-io/transport-node';
import { AgentInventoryReportedV1, CertificateRevokedV1, streams } from '@thk/contracts';
import { createLogger, type Logger } from '@thk/core';
import { MessagePublisher, RpcClient, connectNats, defaultStreamSpecs, type ConsumerSpec } from '@thk/messaging';
import { OutboxRelay, UnitOfWork, openDatabase } from '@thk/persistence';
import { ReadinessRegistry, bootstrapService } from '@thk/service-kit';
import type { DataSource } from 'typeorm';
import { AccountsModule, type AccountsServices } from './accounts.module.js';
import { AGENT_INVENTORY_DURABLE, AgentRegistry } from './agents/agent-registry.service.js';
import type { AccountsConfig } from './config/accounts.config.js';
import { Depository } from './depository/depository.service.js';
import { KdfPool } from './depository/kdf-pool.js';
import { TemporaryKeyAuthorizer } from './depository/temporary-key-authorization.service.js';
import { DevUsers } from './dev-users/dev-users.service.js';
import { CA_EVENTS_DURABLE, HardwareKeyEvents, ISSUANCE_EVENT_DURABLES } from './keys/hardware-key-events.service.js';
import { KeyLifecycle } from './keys/key-lifecycle.service.js';
import { KeyQueries } from './keys/key-queries.service.js';
import { accountsEntities, accountsMigrations } from './persistence/index.js';

export interface RunningAccounts {
  /** Base URL of health and metrics. */
  url: string;
  dataSource: DataSource;
  nats: NatsConnection;
  services: AccountsServices;
  /** Runs the expiry sweep now (it also runs every `sweepIntervalMs`). */
  sweepExpired(): Promise<number>;
  /** Waits until every committed outbox row is published (tests, graceful stops). */
  flushOutbox(timeoutMs?: number): Promise<void>;
  close(): Promise<void>;
}

/** The durable consumers of the accounts service (one filter each: nats-server 2.9). */
export function accountsConsumers(): ConsumerSpec[] {
  return [
    ...ISSUANCE_EVENT_DURABLES.map((d) => ({ stream: streams.issuance.name, ...d })),
    { stream: streams.ca.name, durable: CA_EVENTS_DURABLE, filterSubject: CertificateRevokedV1.subjectPattern },
    { stream: streams.agents.name, durable: AGENT_INVENTORY_DURABLE, filterSubject: AgentInventoryReportedV1.subjectPattern },
  ];
}

/** Starts the accounts service: migrations, NATS (streams, consumers, RPC), outbox relay, expiry sweep. */
export async function startAccounts(config: AccountsConfig, options: { logger?: Logger } = {}): Promise<RunningAccounts> {
  const log = options.logger ?? createLogger('accounts');
  if (config.devMode) log.warn('development mode: dev users are enabled; never run it like this in production');
  if (config.kek.id === 'development') log.warn('using the DEVELOPMENT key-encryption key: cloud keys stored now are not protected at rest');

  const dataSource = await openDatabase({ url: config.databaseUrl, applicationName: 'accounts', entities: accountsEntities, migrations: accountsMigrations }, { create: true });
  let nats: NatsConnection | undefined;
  let relay: OutboxRelay | undefined;
  try {
    nats = await connectNats(config.nats);
    const uow = new UnitOfWork(dataSource);
    const clock = config.clock;
    const pool = new KdfPool(config.kdfConcurrency, config.kdfMaxQueue);
    const lifecycle = new KeyLifecycle(uow, clock, log.child({ component: 'lifecycle' }));
    const depository = new Depository(dataSource, pool, { kdf: config.kdf, kek: config.kek, previousKeks: config.previousKeks, maxAttempts: config.maxPasswordAttempts }, clock, log.child({ component: 'depository' }));
    const services: AccountsServices = {
      queries: new KeyQueries(dataSource, clock),
      lifecycle,
      hardwareKeyEvents: new HardwareKeyEvents(uow, lifecycle, clock, log.child({ component: 'hardware-keys' })),
      depository,
      authorizer: new TemporaryKeyAuthorizer(dataSource, depository, clock, config.authorizationTtlSeconds),
      agents: new AgentRegistry(dataSource, uow, clock, log.child({ component: 'agents' })),
      devUsers: new DevUsers(dataSource, uow, depository, lifecycle, new RpcClient(nats), clock, { enabled: config.devMode, caTimeoutMs: config.caTimeoutMs }, log.child({ component: 'dev-users' })),
    };

    relay = new OutboxRelay({ databaseUrl: config.databaseUrl, publisher: new MessagePublisher(nats), logger: log.child({ component: 'outbox' }) }).serve(uow);
    await relay.start();
    const service = await bootstrapService({
      name: 'accounts',
      module: AccountsModule.register(services),
      httpPort: config.httpPort,
      httpHost: config.httpHost,
      logger: log,
      transport: { connection: nats, streams: defaultStreamSpecs(), consumers: accountsConsumers() },
    });
    const conn = nats;
    const readiness = service.app.get(ReadinessRegistry);
    readiness.add({ name: 'database', check: async () => { await dataSource.query('SELECT 1'); } });
    readiness.add({ name: 'nats', check: async () => { if (conn.isClosed()) throw new Error('closed'); await conn.flush(); } });

    let sweeping: Promise<number> | undefined;
    const sweepExpired = () => (sweeping ??= lifecycle.sweepExpired().finally(() => { sweeping = undefined; }));
    const timer = config.sweepIntervalMs > 0
      ? setInterval(() => { sweepExpired().catch((error) => log.warn({ err: error }, 'expiry sweep failed; next round retries')); }, config.sweepIntervalMs)
      : undefined;
    timer?.unref();

    const outbox = relay;
    let closing: Promise<void> | undefined;
    return {
      url: service.url,
      dataSource,
      nats: conn,
      services,
      sweepExpired,
      async flushOutbox(timeoutMs = 10_000) {
        const deadline = Date.now() + timeoutMs;
        outbox.kick();
        while ((await outbox.backlog()) > 0) {
          if (Date.now() > deadline) throw new Error('outbox not drained in time');
          await new Promise((r) => setTimeout(r, 20));
          outbox.kick();
        }
      },
      close: () => (closing ??= (async () => {
        if (timer) clearInterval(timer);
        await sweeping?.catch(() => undefined);
        await service.close();
        await outbox.stop();
        await conn.drain().catch(() => undefined);
        await dataSource.destroy();
      })()),
    };
  } catch (error) {
    await relay?.stop().catch(() => undefined);
    await nats?.close().catch(() => undefined);
    await dataSource.destroy().catch(() => undefined);
    throw error;
  }
}
