import { randomBytes, randomUUID, webcrypto, type KeyObject } from 'node:crypto';
import { jetstream } from '@nats-io/jetstream';
import { connect, type NatsConnection, type Subscription } from '@nats-io/transport-node';
import {
  CertifyCloudKeyV1, IssueCertificateV1, RevokeCertificateV1, type Envelope, type IssueCertificateV1 as IssueCertificateData,
  type KeyEvidence, type PersonSubject, type RevocationReason, type ValidityOption,
} from '@thk/contracts';
import { createLogger, type Logger } from '@thk/core';
import { createEnvelope, MessagePublisher, RpcClient } from '@thk/messaging';
import { createCsr, signAuthorization, TEST_PERSON, type Bytes } from '@thk/pki';
import { createTestDatabase, startTestNats, type TestDatabase, type TestNats } from '@thk/testing';
import { startCaGateway, type CaGatewayStartOptions, type RunningCaGateway } from '../ca-gateway.app.js';
import type { CaGatewayConfig } from '../config/ca-gateway.config.js';

/** A configuration for tests and benchmarks: dev mode, a random KEK, free port, movable clock. */
export function testCaGatewayConfig(databaseUrl: string, natsUrl: string, overrides: Partial<CaGatewayConfig> = {}): CaGatewayConfig {
  return {
    nats: { servers: natsUrl, name: 'ca-gateway-test' },
    databaseUrl,
    dbPoolSize: 10,
    httpPort: 0,
    httpHost: '127.0.0.1',
    devMode: true,
    kek: { id: 'test-kek', key: randomBytes(32) },
    ca: { commonName: 'THK Test Issuing CA', organization: null, validityDays: 3_650, import: null, pkcs11: null },
    crl: { url: 'http://127.0.0.1:8080/pki/crl', validitySeconds: 3_600, refreshSeconds: 1_800 },
    policyOids: [],
    consumerConcurrency: 16,
    clockToleranceSeconds: 30,
    maxBackdateSeconds: 300,
    clock: () => new Date(),
    ...overrides,
  };
}

export interface BaseKey {
  userId: string;
  keyId: string;
  subject: PersonSubject;
  privateKey: CryptoKey | KeyObject;
  certificate: Bytes;
  serialNumber: string;
  notAfter: Date;
}

export interface RequestOptions {
  requestId?: string;
  validity?: ValidityOption;
  notBefore?: Date;
  notAfter?: Date;
  tokenSerial?: string;
  evidence?: Partial<KeyEvidence>;
  /** Sign the authorization at this moment (default: the gateway's clock). */
  authorizedAt?: Date;
  lifetimeSeconds?: number;
  /** Reuse a token key pair (to provoke `public-key-reused`). */
  tokenKeys?: CryptoKeyPair;
}

/** Collects every `ca.evt.>` envelope (core NATS sees what JetStream stores). */
export class EventTap {
  readonly events: Array<{ subject: string; envelope: Envelope<any> }> = [];
  private readonly waiters: Array<() => void> = [];
  private readonly sub: Subscription;

  constructor(nc: NatsConnection, subject = 'ca.evt.>') {
    this.sub = nc.subscribe(subject, {
      callback: (_err, msg) => {
        this.events.push({ subject: msg.subject, envelope: msg.json() });
        for (const w of this.waiters.splice(0)) w();
      },
    });
  }

  /** The events matching `predicate`, once at least `count` arrived (or throws after `timeoutMs`). */
  async waitFor(predicate: (e: { subject: string; envelope: Envelope<any> }) => boolean, count = 1, timeoutMs = 10_000): Promise<Array<{ subject: string; envelope: Envelope<any> }>> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const found = this.events.filter(predicate);
      if (found.length >= count) return found;
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`timed out waiting for ${count} event(s); have ${found.length}`);
      await new Promise<void>((resolve) => { const t = setTimeout(resolve, Math.min(left, 200)); this.waiters.push(() => { clearTimeout(t); resolve(); }); });
    }
  }

  forRequest(requestId: string): Array<{ subject: string; envelope: Envelope<any> }> {
    return this.events.filter((e) => e.envelope.data?.requestId === requestId);
  }

  close(): void { this.sub.unsubscribe(); }
}

/**
 * A CA gateway started for real on a private NATS server and a fresh database, with a client side:
 * certify base keys (dev RPC), build signed requests, publish commands, watch the answers.
 */
export class CaGatewayHarness {
  now = new Date();
  gateway!: RunningCaGateway;
  client!: NatsConnection;
  rpc!: RpcClient;
  publisher!: MessagePublisher;
  tap!: EventTap;
  config!: CaGatewayConfig;
  private ownedDb: TestDatabase | null = null;
  private ownedNats: TestNats | null = null;
  private readonly log: Logger;

  constructor(options: { logger?: Logger } = {}) {
    this.log = options.logger ?? createLogger('ca-gateway-test', { level: process.env['LOG_LEVEL'] ?? 'silent' });
  }

  async start(options: { databaseUrl?: string; natsUrl?: string; config?: Partial<CaGatewayConfig>; startOptions?: CaGatewayStartOptions } = {}): Promise<this> {
    let databaseUrl = options.databaseUrl;
    let natsUrl = options.natsUrl;
    if (!databaseUrl) { this.ownedDb = await createTestDatabase('ca_gateway'); databaseUrl = this.ownedDb.url; }
    if (!natsUrl) { this.ownedNats = await startTestNats(); natsUrl = this.ownedNats.url; }
    this.config = testCaGatewayConfig(databaseUrl, natsUrl, { clock: () => this.now, ...options.config });
    this.gateway = await startCaGateway(this.config, { logger: this.log, ...options.startOptions });
    this.client = await connect({ servers: natsUrl });
    this.rpc = new RpcClient(this.client, 10_000);
    this.publisher = new MessagePublisher(this.client);
    this.tap = new EventTap(this.client);
    return this;
  }

  /** Restarts the gateway on the same database and NATS (same config, same KEK). */
  async restart(config: Partial<CaGatewayConfig> = {}): Promise<void> {
    await this.gateway.close();
    this.config = { ...this.config, ...config };
    this.gateway = await startCaGateway(this.config, { logger: this.log });
  }

  /** A development user's cloud key, certified by this CA through `CertifyCloudKeyV1`. */
  async certifiedBaseKey(options: { subject?: PersonSubject; notBefore?: Date; notAfter?: Date } = {}): Promise<BaseKey> {
    const keys = await webcrypto.subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-256' }, false, ['sign', 'verify']) as CryptoKeyPair;
    const subject = options.subject ?? TEST_PERSON;
    const userId = randomUUID();
    const keyId = randomUUID();
    const { certificate } = await this.rpc.call(CertifyCloudKeyV1, {
      userId, keyId, subject,
      csr: Buffer.from(await createCsr(subject, keys)).toString('base64'),
      notBefore: (options.notBefore ?? new Date(this.now.getTime() - 86_400_000)).toISOString(),
      notAfter: (options.notAfter ?? new Date(this.now.getTime() + 365 * 86_400_000)).toISOString(),
    });
    return {
      userId, keyId, subject, privateKey: keys.privateKey,
      certificate: new Uint8Array(Buffer.from(certificate.der, 'base64')),
      serialNumber: certificate.serialNumber,
      notAfter: new Date(certificate.notAfter),
    };
  }

  /** A complete, valid IssueCertificate command for a fresh token key (override anything). */
  async request(base: BaseKey, options: RequestOptions = {}): Promise<{ data: IssueCertificateData; tokenKeys: CryptoKeyPair }> {
    const requestId = options.requestId ?? randomUUID();
    const validity = options.validity ?? 'P1W';
    const tokenSerial = options.tokenSerial ?? '220771';
    const notBefore = options.notBefore ?? this.now;
    const notAfter = options.notAfter ?? (validity === 'base' ? base.notAfter : new Date(Math.min(notBefore.getTime() + { P1D: 1, P1W: 7, P1M: 28 }[validity] * 86_400_000, base.notAfter.getTime())));
    const tokenKeys = options.tokenKeys ?? await webcrypto.subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-256' }, false, ['sign', 'verify']) as CryptoKeyPair;
    const authorization = await signAuthorization(
      { sub: base.userId, jti: requestId, baseKeyId: base.keyId, tokenSerial, validity, notAfterCap: base.notAfter.toISOString() },
      { privateKey: base.privateKey, certificate: base.certificate, now: options.authorizedAt ?? this.now, ...(options.lifetimeSeconds ? { lifetimeSeconds: options.lifetimeSeconds } : {}) },
    );
    return {
      tokenKeys,
      data: {
        requestId,
        profile: 'temporary-hardware-key',
        csr: Buffer.from(await createCsr(base.subject, tokenKeys)).toString('base64'),
        authorization,
        tokenSerial,
        algorithm: 'EC-P256',
        notBefore: notBefore.toISOString(),
        notAfter: notAfter.toISOString(),
        evidence: { local: true, neverExtractable: true, alwaysSensitive: true, attestation: null, ...options.evidence },
      },
    };
  }

  issueEnvelope(data: IssueCertificateData): Envelope<IssueCertificateData> {
    return createEnvelope(IssueCertificateV1, data, { source: 'issuance', correlationId: data.requestId });
  }

  revokeEnvelope(serialNumber: string, reason: RevocationReason = 'cessationOfOperation') {
    return createEnvelope(RevokeCertificateV1, { serialNumber, reason, requestedBy: 'issuance:compensation', comment: null }, { source: 'issuance', correlationId: randomUUID() });
  }

  /** Publishes an envelope to JetStream as a producer would (msgID = envelope id). */
  async send(subject: string, envelope: Envelope): Promise<void> {
    await this.publisher.publish(subject, envelope);
  }

  /**
   * Publishes the same envelope again under another `Nats-Msg-Id`: JetStream stores it twice, so
   * the consumer receives the message id a second time, exactly as after a lost ack.
   */
  async redeliver(subject: string, envelope: Envelope): Promise<void> {
    await jetstream(this.client).publish(subject, JSON.stringify(envelope), { msgID: `redelivery-${randomUUID()}` });
  }

  async close(): Promise<void> {
    this.tap?.close();
    await this.client?.drain().catch(() => undefined);
    await this.gateway?.close().catch(() => undefined);
    await this.ownedNats?.stop();
    await this.ownedDb?.drop();
  }
}
