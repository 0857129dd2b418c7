import 'reflect-metadata';
import type { NatsConnection } from '@nats-io/transport-node';
import { streams } from '@thk/contracts';
import { createLogger, type Logger } from '@thk/core';
import { MessagePublisher, RpcClient, connectNats, defaultStreamSpecs, type ConsumerSpec } from '@thk/messaging';
import { OutboxRelay, UnitOfWork, openDatabase } from '@thk/persistence';
import { ReadinessRegistry, bootstrapService } from '@thk/service-kit';
import type { DataSource } from 'typeorm';
import type { IssuanceConfig } from './config/issuance.config.js';
import { DeadlineScheduler } from './hardware-key/deadline.scheduler.js';
import { HardwareKeyProcessManager } from './hardware-key/hardware-key.process-manager.js';
import { RequestHardwareKeyService } from './hardware-key/request-hardware-key.service.js';
import { AGENT_EVENTS_DURABLE, CA_EVENTS_DURABLE } from './hardware-key/saga-events.message.controller.js';
import { IssuanceModule, type IssuanceServices } from './issuance.module.js';
import { issuanceEntities, issuanceMigrations } from './persistence/index.js';
import { IssuerValidity } from './validity/issuer-validity.service.js';
import { PreviewValidityService } from './validity/preview-validity.service.js';

export interface RunningIssuance {
  /** Base URL of health and metrics. */
  url: string;
  dataSource: DataSource;
  nats: NatsConnection;
  services: IssuanceServices;
  /** Scans for due deadlines now (the scheduler also does every `deadlinePollMs`). */
  fireDueDeadlines(): Promise<number>;
  /** Waits until every committed outbox row is published (tests, graceful stops). */
  flushOutbox(timeoutMs?: number): Promise<void>;
  close(): Promise<void>;
}

/** The durable consumers of the issuance service (one filter each: nats-server 2.9). */
export function issuanceConsumers(): ConsumerSpec[] {
  return [
    { stream: streams.agents.name, durable: AGENT_EVENTS_DURABLE, filterSubject: 'agent.*.evt.>' },
    { stream: streams.ca.name, durable: CA_EVENTS_DURABLE, filterSubject: 'ca.evt.>' },
  ];
}

/** Starts the issuance service: migrations, NATS (streams, consumers, RPC), outbox relay, deadline scheduler. */
export async function startIssuance(config: IssuanceConfig, options: { logger?: Logger } = {}): Promise<RunningIssuance> {
  const log = options.logger ?? createLogger('issuance');
  const dataSource = await openDatabase({ url: config.databaseUrl, applicationName: 'issuance', entities: issuanceEntities, migrations: issuanceMigrations }, { create: true });
  let nats: NatsConnection | undefined;
  let relay: OutboxRelay | undefined;
  try {
    nats = await connectNats(config.nats);
    const clock = config.clock;
    const rpc = new RpcClient(nats, config.rpcTimeoutMs);
    const settings = { minimumRemainingMs: config.minimumValidityMs, timeZone: config.timeZone };
    const issuer = new IssuerValidity(rpc, clock, config.issuerCacheMs, config.rpcTimeoutMs, log.child({ component: 'issuer' }));
    const uow = new UnitOfWork(dataSource);
    const sagas = new HardwareKeyProcessManager(dataSource, uow, clock,
      { agentStepMs: config.agentStepTimeoutMs, caStepMs: config.caStepTimeoutMs }, log.child({ component: 'saga' }));
    const services: IssuanceServices = {
      sagas,
      requests: new RequestHardwareKeyService(rpc, sagas, issuer, clock, settings, config.rpcTimeoutMs, log.child({ component: 'request' })),
      previews: new PreviewValidityService(rpc, issuer, clock, settings, config.rpcTimeoutMs),
    };

    relay = new OutboxRelay({ databaseUrl: config.databaseUrl, publisher: new MessagePublisher(nats), logger: log.child({ component: 'outbox' }) }).serve(uow);
    await relay.start();
    const service = await bootstrapService({
      name: 'issuance',
      module: IssuanceModule.register(services),
      httpPort: config.httpPort,
      httpHost: config.httpHost,
      logger: log,
      transport: { connection: nats, streams: defaultStreamSpecs(), consumers: issuanceConsumers() },
    });
    const scheduler = new DeadlineScheduler(sagas, config.deadlinePollMs, log.child({ component: 'deadlines' }));
    scheduler.start();
    // Warm the issuer cache; a CA that is not up yet is asked again on the first request.
    issuer.refresh().catch((error) => log.info({ code: (error as { code?: string }).code }, 'issuing CA certificate not known yet; asked again when needed'));

    const conn = nats;
    const readiness = service.app.get(ReadinessRegistry);
    readiness.add({ name: 'database', check: async () => { await dataSource.query('SELECT 1'); } });
    readiness.add({ name: 'nats', check: async () => { if (conn.isClosed()) throw new Error('closed'); await conn.flush(); } });

    const outbox = relay;
    let closing: Promise<void> | undefined;
    return {
      url: service.url,
      dataSource,
      nats: conn,
      services,
      fireDueDeadlines: () => scheduler.runOnce(),
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
        await scheduler.stop();
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
