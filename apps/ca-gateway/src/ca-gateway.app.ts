import 'reflect-metadata';
import type { NatsConnection } from '@nats-io/transport-node';
import { streams } from '@thk/contracts';
import { createLogger, type Logger } from '@thk/core';
import { MessagePublisher, connectNats, defaultStreamSpecs, type ConsumerSpec } from '@thk/messaging';
import { OutboxRelay, UnitOfWork, openDatabase } from '@thk/persistence';
import { AuthorizationVerifier } from '@thk/pki';
import { ReadinessRegistry, bootstrapService } from '@thk/service-kit';
import type { DataSource } from 'typeorm';
import { BuiltInCertificateAuthority, type ExternalCaKey } from './authority/built-in/built-in-ca.js';
import type { CertificateAuthority } from './authority/certificate-authority.js';
import { Pkcs11CaKey } from './authority/pkcs11/pkcs11-ca-key.js';
import { CaGatewayModule, type CaGatewayServices } from './ca-gateway.module.js';
import { CertifyCloudKeyService } from './cloud-keys/certify-cloud-key.service.js';
import type { CaGatewayConfig } from './config/ca-gateway.config.js';
import { IssueCertificateService } from './issuance/issue-certificate.service.js';
import { CaQueries } from './queries/ca-queries.service.js';
import { CertificateRegistry } from './registry/certificate-registry.js';
import { caEntities, caMigrations } from './registry/index.js';
import { CrlService } from './revocation/crl.service.js';
import { CA_COMMANDS_DURABLE, RevokeCertificateService } from './revocation/revoke-certificate.service.js';

export interface RunningCaGateway {
  /** Base URL of health and metrics. */
  url: string;
  dataSource: DataSource;
  nats: NatsConnection;
  ca: CertificateAuthority;
  services: CaGatewayServices;
  crl: CrlService;
  /** Waits until every committed outbox row is published (tests, benchmarks, graceful stops). */
  flushOutbox(timeoutMs?: number): Promise<void>;
  close(): Promise<void>;
}

export interface CaGatewayStartOptions {
  logger?: Logger;
  /** A CA key held outside the database (default: a PKCS#11 token when `config.ca.pkcs11` is set). */
  externalKey?: ExternalCaKey | null;
}

/** The CA gateway's one durable consumer: both commands, one filter (nats-server 2.9). */
export function caGatewayConsumers(concurrency: number): ConsumerSpec[] {
  // IssueCertificate and RevokeCertificate share the `ca.cmd.>` filter; the transport routes each to its handler.
  return [{ stream: streams.ca.name, durable: CA_COMMANDS_DURABLE, filterSubject: 'ca.cmd.>', concurrency }];
}

/**
 * Starts the CA gateway: migrations, the issuing CA (created at first start), a fresh CRL,
 * NATS (streams, the command consumer, RPC), the outbox relay and the CRL refresh timer.
 */
export async function startCaGateway(config: CaGatewayConfig, options: CaGatewayStartOptions = {}): Promise<RunningCaGateway> {
  const log = options.logger ?? createLogger('ca-gateway');
  if (config.devMode) log.warn('development mode: cloud keys are certified on request (CertifyCloudKeyV1); never run it like this in production');
  if (config.kek.id === 'development') log.warn('using the DEVELOPMENT key-encryption key: the CA key stored now is not protected at rest');

  const dataSource = await openDatabase({ url: config.databaseUrl, applicationName: 'ca-gateway', entities: caEntities, migrations: caMigrations, poolSize: config.dbPoolSize }, { create: true });
  let nats: NatsConnection | undefined;
  let relay: OutboxRelay | undefined;
  let ca: CertificateAuthority | undefined;
  let crl: CrlService | undefined;
  let externalKey: ExternalCaKey | null = null;
  try {
    const clock = config.clock;
    externalKey = options.externalKey ?? (config.ca.pkcs11 ? Pkcs11CaKey.open(config.ca.pkcs11, log.child({ component: 'ca-pkcs11' })) : null);
    ca = await BuiltInCertificateAuthority.open(dataSource, {
      kek: config.kek,
      commonName: config.ca.commonName,
      organization: config.ca.organization,
      validityDays: config.ca.validityDays,
      import: config.ca.import,
      crlUrl: config.crl.url,
      extraPolicyOids: config.policyOids,
      externalKey,
      clock,
      logger: log.child({ component: 'ca' }),
    });
    const registry = new CertificateRegistry(dataSource);
    const uow = new UnitOfWork(dataSource);
    crl = new CrlService(dataSource, ca, registry, config.crl, clock, log.child({ component: 'crl' }));
    await crl.ensureFresh();
    const verifier = new AuthorizationVerifier({
      issuer: { subject: ca.issuer.subject, publicKey: ca.issuer.publicKey },
      clockToleranceSeconds: config.clockToleranceSeconds,
    });
    const services: CaGatewayServices = {
      issue: new IssueCertificateService(uow, registry, ca, verifier, { clockToleranceSeconds: config.clockToleranceSeconds, maxBackdateSeconds: config.maxBackdateSeconds }, clock, log.child({ component: 'issue' })),
      revoke: new RevokeCertificateService(uow, registry, crl, clock, log.child({ component: 'revoke' })),
      queries: new CaQueries(ca, crl, registry),
      cloudKeys: new CertifyCloudKeyService(dataSource, registry, ca, config.devMode, clock, log.child({ component: 'cloud-keys' })),
    };

    nats = await connectNats(config.nats);
    relay = new OutboxRelay({ databaseUrl: config.databaseUrl, publisher: new MessagePublisher(nats), logger: log.child({ component: 'outbox' }) }).serve(uow);
    await relay.start();
    const service = await bootstrapService({
      name: 'ca-gateway',
      module: CaGatewayModule.register(services),
      httpPort: config.httpPort,
      httpHost: config.httpHost,
      logger: log,
      transport: { connection: nats, streams: defaultStreamSpecs(), consumers: caGatewayConsumers(config.consumerConcurrency) },
    });
    crl.start();
    const conn = nats;
    const readiness = service.app.get(ReadinessRegistry);
    readiness.add({ name: 'database', check: async () => { await dataSource.query('SELECT 1'); } });
    readiness.add({ name: 'nats', check: async () => { if (conn.isClosed()) throw new Error('closed'); await conn.flush(); } });

    const outbox = relay;
    const authority = ca;
    const crlService = crl;
    let closing: Promise<void> | undefined;
    return {
      url: service.url,
      dataSource,
      nats: conn,
      ca: authority,
      services,
      crl: crlService,
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
        await service.close();
        await crlService.stop();
        await outbox.stop();
        await conn.drain().catch(() => undefined);
        await authority.close();
        await dataSource.destroy();
      })()),
    };
  } catch (error) {
    await crl?.stop().catch(() => undefined);
    await relay?.stop().catch(() => undefined);
    await nats?.close().catch(() => undefined);
    if (ca) await ca.close().catch(() => undefined);
    else await externalKey?.close().catch(() => undefined);
    await dataSource.destroy().catch(() => undefined);
    throw error;
  }
}
