/**
 * The other services, played on the bus by test participants that speak only the contracts:
 * accounts (request/reply), the token agent (agent.<id>.cmd → agent.<id>.evt) and the CA gateway
 * (ca.cmd → ca.evt, and its CA certificate query). The issuance service under test is the real one.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { AckPolicy, DeliverPolicy, jetstream, jetstreamManager, type ConsumerMessages } from '@nats-io/jetstream';
import type { NatsConnection, Subscription } from '@nats-io/transport-node';
import {
  AuthorizeTemporaryKeyV1, CertificateInstalledV1, CertificateInstallFailedV1, CertificateIssuedV1, CertificateRejectedV1, CertificateRevokedV1,
  DestroyTokenKeyV1, GenerateTokenKeyV1, GetCaCertificateV1, GetKeyV1, GetUserTokenV1, InstallCertificateV1, IssueCertificateV1,
  RevokeCertificateV1, TokenKeyDestroyedV1, TokenKeyGeneratedV1, TokenKeyGenerationFailedV1,
  type CertificateRejectionCode, type Envelope, type KeyAccount, type KeyAlgorithm, type MessageContract, type MessageData,
  type PersonSubject, type RpcContract, type TokenFailureCode, type TokenView,
} from '@thk/contracts';
import type { AppErrorShape } from '@thk/core';
import { MessagePublisher } from '@thk/messaging';

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** Answers one RPC contract over core NATS the way the JetStream transport does ({ ok, data | error }). */
function answer<C extends RpcContract<any, any>>(nc: NatsConnection, contract: C, handler: (req: any) => unknown): Subscription {
  return nc.subscribe(contract.subject, {
    callback: (err, msg) => {
      if (err) return;
      void (async () => {
        let reply: unknown;
        try {
          const req = contract.request.parse(JSON.parse(decoder.decode(msg.data)));
          reply = { ok: true, data: contract.response.parse(await handler(req)) };
        } catch (error) {
          const e = error as Partial<AppErrorShape>;
          reply = { ok: false, error: { code: e.code ?? 'internal', message: e.message ?? 'error', retryable: e.retryable ?? false, ...(e.meta ? { meta: e.meta } : {}) } };
        }
        msg.respond(encoder.encode(JSON.stringify(reply)));
      })();
    },
  });
}

const refusal = (code: string, message = code, meta?: Record<string, unknown>) => Object.assign(new Error(message), { code, retryable: false, meta });

/** Consumes a stream subject with its own durable, acking after the handler ran. */
async function consume(nc: NatsConnection, stream: string, durable: string, filter: string, handler: (subject: string, envelope: Envelope) => Promise<void>): Promise<ConsumerMessages> {
  const jsm = await jetstreamManager(nc);
  await jsm.consumers.add(stream, { durable_name: durable, filter_subject: filter, ack_policy: AckPolicy.Explicit, deliver_policy: DeliverPolicy.All, ack_wait: 30_000_000_000 });
  const consumer = await jetstream(nc).consumers.get(stream, durable);
  const messages = await consumer.consume({ max_messages: 50 });
  void (async () => {
    for await (const m of messages) {
      try {
        await handler(m.subject, JSON.parse(decoder.decode(m.data)) as Envelope);
      } catch (error) {
        console.error(`test participant ${durable} failed on ${m.subject}:`, error);
      }
      m.ack();
    }
  })();
  return messages;
}

/** Something a test waits for. */
export async function eventually<T>(probe: () => T | Promise<T>, ok: (value: T) => boolean, timeoutMs = 15_000, what = 'condition'): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last = await probe();
  while (!ok(last)) {
    if (Date.now() > deadline) throw new Error(`${what} not met within ${timeoutMs} ms; last value: ${JSON.stringify(last)?.slice(0, 2_000)}`);
    await new Promise((r) => setTimeout(r, 25));
    last = await probe();
  }
  return last;
}

// ───────────────────────────── accounts ─────────────────────────────

export interface FakeKey {
  userId: string;
  account: KeyAccount;
  certificateRevoked: boolean;
  password: string;
  accessBlocked: boolean;
  subject: PersonSubject;
}

export interface FakeToken {
  userId: string;
  online: boolean;
  view: TokenView;
}

/** A compact JWS shaped string (the real one is the depository's ES256 signature; the CA checks it). */
export function fakeJws(requestId: string): string {
  const b64 = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64url');
  return `${b64({ alg: 'ES256', typ: 'JWT' })}.${b64({ jti: requestId })}.${randomBytes(64).toString('base64url')}`;
}

export class FakeAccounts {
  readonly keys = new Map<string, FakeKey>();
  readonly tokens = new Map<string, FakeToken>();
  private readonly serials = new Set<string>();
  readonly calls: Array<{ rpc: string; request: Record<string, unknown> }> = [];
  /** Every password the depository was given (to prove where it went and where not). */
  readonly passwordsSeen: string[] = [];
  private subs: Subscription[] = [];

  constructor(private readonly nc: NatsConnection) {}

  start(): this {
    this.subs = [
      answer(this.nc, GetKeyV1, (req) => {
        this.calls.push({ rpc: 'get-key', request: req });
        const key = this.keys.get(req.keyId);
        if (!key || key.userId !== req.userId) throw refusal('not-found', 'no such key');
        return { key: key.account, certificateRevoked: key.certificateRevoked };
      }),
      answer(this.nc, GetUserTokenV1, (req) => {
        this.calls.push({ rpc: 'get-user-token', request: req });
        const token = this.tokens.get(req.tokenId);
        if (!token || token.userId !== req.userId || !token.online) throw refusal('token-unavailable', 'no such token online');
        return { token: token.view };
      }),
      answer(this.nc, AuthorizeTemporaryKeyV1, (req) => {
        this.calls.push({ rpc: 'authorize', request: { ...req, password: '[seen]' } });
        this.passwordsSeen.push(req.password);
        const key = this.keys.get(req.baseKeyId);
        if (!key || key.userId !== req.userId) throw refusal('not-found');
        if (key.account.kind !== 'cloud' || key.account.status !== 'active') throw refusal('key-not-eligible');
        if (key.accessBlocked) throw refusal('key-access-blocked');
        if (req.password !== key.password) throw refusal('wrong-password', 'wrong password', { remainingAttempts: 4 });
        const cert = key.account.certificate!;
        return {
          authorization: fakeJws(req.requestId),
          expiresAt: new Date(Date.now() + 300_000).toISOString(),
          owner: key.account.owner,
          subject: key.subject,
          baseCertificate: { serialNumber: cert.serialNumber, notBefore: cert.notBefore, notAfter: cert.notAfter, der: 'MIIBYmFzZQ==' },
        };
      }),
    ];
    return this;
  }

  count(rpc: string): number {
    return this.calls.filter((c) => c.rpc === rpc).length;
  }

  addCloudKey(options: { userId?: string; password?: string; notBefore?: string; notAfter?: string; status?: KeyAccount['status']; kind?: KeyAccount['kind']; revoked?: boolean; accessBlocked?: boolean } = {}): FakeKey {
    const id = randomUUID();
    const userId = options.userId ?? randomUUID();
    const key: FakeKey = {
      userId,
      password: options.password ?? 'Demo-Cloud-Key-1',
      certificateRevoked: options.revoked ?? false,
      accessBlocked: options.accessBlocked ?? false,
      subject: { commonName: 'Тест Тест Тест', surname: 'Тест', givenName: 'Тест Тест', serialNumber: 'TINUA-1111111111', organization: null, organizationIdentifier: null, title: null, country: 'UA' },
      account: {
        id, kind: options.kind ?? 'cloud', temporary: false, baseKeyId: null,
        owner: { organization: null, edrpou: null, fullName: 'Тест Тест Тест', rnokpp: '1111111111', position: null },
        status: options.status ?? 'active',
        createdAt: new Date(Date.now() - 86_400_000).toISOString(),
        certificate: {
          serialNumber: randomBytes(8).toString('hex'), subject: 'CN=Тест Тест Тест', issuer: 'CN=THK Test CA',
          notBefore: options.notBefore ?? new Date(Date.now() - 86_400_000).toISOString(),
          notAfter: options.notAfter ?? new Date(Date.now() + 365 * 86_400_000).toISOString(),
        },
        token: null,
        actions: ['form-temporary-hardware-key'],
      },
    };
    this.keys.set(id, key);
    return key;
  }

  addToken(options: { userId: string; agentId: string; serial?: string; userPinInitialized?: boolean; algorithms?: KeyAlgorithm[]; online?: boolean }): FakeToken {
    // Unique within the run: the tests tell an agent's commands apart by token serial, and two tokens
    // drawing the same random serial (one run in ~200 did) would mix two requests' commands.
    let serial = options.serial;
    if (serial === undefined) do serial = String(100_000 + Math.floor(Math.random() * 900_000)); while (this.serials.has(serial));
    this.serials.add(serial);
    const token: FakeToken = {
      userId: options.userId,
      online: options.online ?? true,
      view: {
        tokenId: `${options.agentId}:${serial}`, agentId: options.agentId, serial, model: 'SoftHSM v2', label: serial, display: `${serial}(SoftHSM v2)`,
        userPinInitialized: options.userPinInitialized ?? false,
        algorithms: options.algorithms ?? ['EC-P256', 'RSA-2048'],
        agentKey: { kty: 'EC', crv: 'P-256', x: 'f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU', y: 'x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0' },
      },
    };
    this.tokens.set(token.view.tokenId, token);
    return token;
  }

  stop(): void {
    for (const s of this.subs) s.unsubscribe();
  }
}

// ───────────────────────────── token agent ─────────────────────────────

export type AgentStep<TFail extends string = TokenFailureCode> = 'ok' | 'silent' | 'hold' | { fail: TFail };

export interface AgentScript {
  generate?: AgentStep;
  install?: AgentStep;
  destroy?: 'ok' | 'silent';
}

type Held = { subject: string; envelope: Envelope; release(): Promise<void> };

/** A signing agent: answers its commands per token serial as the test scripted it. */
export class FakeAgent {
  readonly commands: Array<{ subject: string; envelope: Envelope }> = [];
  readonly scripts = new Map<string, AgentScript>();
  readonly held: Held[] = [];
  private messages: ConsumerMessages | undefined;
  private readonly publisher: MessagePublisher;

  constructor(private readonly nc: NatsConnection, readonly agentId: string) {
    this.publisher = new MessagePublisher(nc);
  }

  async start(): Promise<this> {
    this.messages = await consume(this.nc, 'AGENTS', `test-agent-${this.agentId}`, `agent.${this.agentId}.cmd.>`, (subject, envelope) => this.onCommand(subject, envelope));
    return this;
  }

  script(serial: string, script: AgentScript): void {
    this.scripts.set(serial, script);
  }

  received(type: string, requestId?: string): Envelope<any>[] {
    return this.commands.filter((c) => c.envelope.type === type && (!requestId || (c.envelope.data as { requestId: string }).requestId === requestId)).map((c) => c.envelope);
  }

  /** Publishes an agent event as this agent (or as another one, to play an impostor). */
  async emit<C extends MessageContract<string, any, { agentId: string }>>(contract: C, data: MessageData<C>, options: { asAgent?: string; causationId?: string } = {}): Promise<void> {
    await this.publisher.emit(contract, { agentId: options.asAgent ?? this.agentId }, data, { source: `token-agent:${this.agentId}`, correlationId: (data as { requestId: string }).requestId, causationId: options.causationId ?? null });
  }

  keyIdOf(requestId: string): string {
    return requestId.replace(/-/g, '').slice(0, 16);
  }

  generatedEvent(requestId: string, tokenSerial: string, algorithm: KeyAlgorithm = 'EC-P256'): MessageData<typeof TokenKeyGeneratedV1> {
    return {
      requestId, tokenSerial, keyId: this.keyIdOf(requestId), algorithm, csr: Buffer.from(`csr-of-${requestId}`).toString('base64'),
      evidence: { local: true, neverExtractable: true, alwaysSensitive: true, attestation: null },
    };
  }

  private async onCommand(subject: string, envelope: Envelope): Promise<void> {
    this.commands.push({ subject, envelope });
    const data = envelope.data as { requestId: string; tokenSerial: string };
    const script = this.scripts.get(data.tokenSerial) ?? {};
    const respond = async (step: AgentStep | undefined, ok: () => Promise<void>, fail: (code: TokenFailureCode) => Promise<void>) => {
      const s = step ?? 'ok';
      if (s === 'silent') return;
      const run = typeof s === 'object' ? () => fail(s.fail) : ok;
      if (s === 'hold') {
        this.held.push({ subject, envelope, release: run });
        return;
      }
      await run();
    };
    switch (envelope.type) {
      case GenerateTokenKeyV1.type: {
        const cmd = envelope.data as MessageData<typeof GenerateTokenKeyV1>;
        await respond(script.generate,
          () => this.emit(TokenKeyGeneratedV1, this.generatedEvent(cmd.requestId, cmd.tokenSerial, cmd.algorithm), { causationId: envelope.id }),
          (code) => this.emit(TokenKeyGenerationFailedV1, { requestId: cmd.requestId, tokenSerial: cmd.tokenSerial, code, message: `the token says ${code}` }, { causationId: envelope.id }));
        break;
      }
      case InstallCertificateV1.type: {
        const cmd = envelope.data as MessageData<typeof InstallCertificateV1>;
        const serial = Buffer.from(cmd.certificate, 'base64').toString('utf8').replace(/^cert:/, '');
        await respond(script.install,
          () => this.emit(CertificateInstalledV1, { requestId: cmd.requestId, tokenSerial: cmd.tokenSerial, keyId: cmd.keyId, certificateSerialNumber: serial }, { causationId: envelope.id }),
          (code) => this.emit(CertificateInstallFailedV1, { requestId: cmd.requestId, tokenSerial: cmd.tokenSerial, keyId: cmd.keyId, code, message: `install: ${code}` }, { causationId: envelope.id }));
        break;
      }
      case DestroyTokenKeyV1.type: {
        const cmd = envelope.data as MessageData<typeof DestroyTokenKeyV1>;
        if ((script.destroy ?? 'ok') === 'ok') await this.emit(TokenKeyDestroyedV1, { requestId: cmd.requestId, tokenSerial: cmd.tokenSerial, destroyedObjects: 3 }, { causationId: envelope.id });
        break;
      }
      default:
        throw new Error(`the agent got an unknown command ${envelope.type}`);
    }
  }

  async stop(): Promise<void> {
    await this.messages?.close();
  }
}

// ───────────────────────────── CA gateway ─────────────────────────────

export interface CaScript {
  /** `overlong`: a certificate that ends a year after the window asked for (a misbehaving CA). */
  issue?: 'ok' | 'silent' | 'hold' | 'overlong' | { reject: CertificateRejectionCode };
  revoke?: 'ok' | 'silent';
}

/** The CA gateway: issues (a fake DER that names its serial), revokes, and tells its own notAfter. */
export class FakeCa {
  readonly commands: Array<{ subject: string; envelope: Envelope }> = [];
  readonly scripts = new Map<string, CaScript>();
  readonly held: Array<{ envelope: Envelope; release(): Promise<void> }> = [];
  notAfter = new Date(Date.now() + 10 * 365 * 86_400_000);
  caCertificateCalls = 0;
  private messages: ConsumerMessages | undefined;
  private sub: Subscription | undefined;
  private readonly publisher: MessagePublisher;

  constructor(private readonly nc: NatsConnection) {
    this.publisher = new MessagePublisher(nc);
  }

  async start(): Promise<this> {
    this.sub = answer(this.nc, GetCaCertificateV1, () => {
      this.caCertificateCalls++;
      return { pem: '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n', chainPem: '', notAfter: this.notAfter.toISOString() };
    });
    this.messages = await consume(this.nc, 'CA', 'test-ca-commands', 'ca.cmd.>', (subject, envelope) => this.onCommand(subject, envelope));
    return this;
  }

  script(tokenSerial: string, script: CaScript): void {
    this.scripts.set(tokenSerial, script);
  }

  received(type: string): Envelope<any>[] {
    return this.commands.filter((c) => c.envelope.type === type).map((c) => c.envelope);
  }

  private readonly serialToToken = new Map<string, string>();

  /** Publishes a certificate for a request (also used to play a late or a second certificate). */
  async issue(requestId: string, tokenSerial: string, window: { notBefore: string; notAfter: string }, causationId: string | null = null): Promise<string> {
    const serialNumber = randomBytes(8).toString('hex');
    this.serialToToken.set(serialNumber, tokenSerial);
    await this.publisher.emit(CertificateIssuedV1, undefined, {
      requestId,
      certificate: {
        serialNumber, subject: 'CN=Тест Тест Тест', issuer: 'CN=THK Test CA', notBefore: window.notBefore, notAfter: window.notAfter,
        der: Buffer.from(`cert:${serialNumber}`).toString('base64'),
      },
    }, { source: 'ca-gateway', correlationId: requestId, causationId });
    return serialNumber;
  }

  private async onCommand(subject: string, envelope: Envelope): Promise<void> {
    this.commands.push({ subject, envelope });
    switch (envelope.type) {
      case IssueCertificateV1.type: {
        const cmd = envelope.data as MessageData<typeof IssueCertificateV1>;
        const script = this.scripts.get(cmd.tokenSerial)?.issue ?? 'ok';
        const run = typeof script === 'object'
          ? () => this.publisher.emit(CertificateRejectedV1, undefined, { requestId: cmd.requestId, code: script.reject, message: `the CA refuses: ${script.reject}` }, { source: 'ca-gateway', correlationId: cmd.requestId, causationId: envelope.id }).then(() => undefined)
          : () => this.issue(cmd.requestId, cmd.tokenSerial, script === 'overlong' ? { notBefore: cmd.notBefore, notAfter: new Date(Date.parse(cmd.notAfter) + 365 * 86_400_000).toISOString() } : cmd, envelope.id).then(() => undefined);
        if (script === 'silent') return;
        if (script === 'hold') { this.held.push({ envelope, release: run }); return; }
        await run();
        break;
      }
      case RevokeCertificateV1.type: {
        const cmd = envelope.data as MessageData<typeof RevokeCertificateV1>;
        const token = this.serialToToken.get(cmd.serialNumber);
        if ((token && this.scripts.get(token)?.revoke) === 'silent') return;
        await this.publisher.emit(CertificateRevokedV1, undefined, { serialNumber: cmd.serialNumber, reason: cmd.reason, revokedAt: new Date().toISOString() }, { source: 'ca-gateway', correlationId: cmd.serialNumber, causationId: envelope.id });
        break;
      }
      default:
        throw new Error(`the CA got an unknown command ${envelope.type}`);
    }
  }

  async stop(): Promise<void> {
    this.sub?.unsubscribe();
    await this.messages?.close();
  }
}

// ───────────────────────────── what issuance published ─────────────────────────────

/** Collects what the issuance service publishes on `issuance.evt.>` (core subscription sees JetStream publishes). */
export class IssuanceEvents {
  readonly all: Envelope<any>[] = [];
  private sub: Subscription | undefined;

  constructor(private readonly nc: NatsConnection) {}

  start(): this {
    this.sub = this.nc.subscribe('issuance.evt.>', { callback: (err, msg) => { if (!err) this.all.push(JSON.parse(decoder.decode(msg.data)) as Envelope); } });
    return this;
  }

  of(type: string, requestId: string): Envelope<any>[] {
    return this.all.filter((e) => e.type === type && (e.data as { requestId: string }).requestId === requestId);
  }

  /** Progress of one request, de-duplicated by sequence (a relay may publish a row twice; JetStream absorbs it, a core subscriber may not). */
  progress(requestId: string): Array<[number, string]> {
    const bySeq = new Map<number, string>();
    for (const e of this.of('HardwareKeyRequestProgressed', requestId)) bySeq.set(e.data.sequence, e.data.status);
    return [...bySeq.entries()].sort((a, b) => a[0] - b[0]);
  }

  async until(requestId: string, status: string, timeoutMs = 15_000): Promise<Array<[number, string]>> {
    return eventually(() => this.progress(requestId), (p) => p.some(([, s]) => s === status), timeoutMs, `request ${requestId} reaching ${status}`);
  }

  stop(): void {
    this.sub?.unsubscribe();
  }
}
