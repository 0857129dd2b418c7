import { randomUUID, webcrypto } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { pino, type Logger } from 'pino';
import { Pkcs10CertificateRequest, X509CertificateGenerator } from '@peculiar/x509';
import { CompactEncrypt, importJWK, type JWK } from 'jose';
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import { connect, headers, type NatsConnection } from '@nats-io/transport-node';
import { streams, type Envelope, type MessageContract, type MessageData, type SealingJwk } from '@thk/contracts';
import { REDACTED_PATHS } from '@thk/core';
import { createEnvelope, defaultStreamSpecs, provisionStreams } from '@thk/messaging';
import { createSoftHsm, startTestNats, type SoftHsmEnvironment, type TestNats } from '@thk/testing';
import type { TokenAgentConfig } from '../config/agent.config.js';

/**
 * Test support shared by the agent's tests and the e2e tests: seal a PIN as the cabinet does, send
 * an agent command as issuance does, and read back what the agent published to the AGENTS stream.
 */

/** Seals a PIN to an agent's public key: compact JWE, ECDH-ES + A256GCM (what the cabinet sends). */
export async function sealPin(agentKey: SealingJwk | JWK, pin: string): Promise<string> {
  const key = await importJWK({ kty: agentKey.kty, crv: agentKey.crv, x: agentKey.x, y: agentKey.y }, 'ECDH-ES');
  return new CompactEncrypt(new TextEncoder().encode(pin)).setProtectedHeader({ alg: 'ECDH-ES', enc: 'A256GCM', ...(agentKey.kid ? { kid: agentKey.kid } : {}) }).encrypt(key);
}

/**
 * The configuration the in-process agent tests start an agent with (on a test NATS and a SoftHSM
 * module): a quick slot poll, a long heartbeat, streams provisioned by the agent.
 */
export function testAgentConfig(base: { agentId: string; natsUrl: string; modulePath: string; soPin: string; stateDir: string; rescan: TokenAgentConfig['rescan'] }): TokenAgentConfig {
  return {
    agentId: base.agentId, nats: { servers: base.natsUrl, name: base.agentId }, modules: [base.modulePath], rescan: base.rescan, soPin: base.soPin, stateDir: base.stateDir,
    pinPolicy: { minLength: 6, maxLength: 32 }, heartbeatSeconds: 60, pollIntervalMs: 150, ackWaitSeconds: 30, provisionStreams: true, allowFinalTry: false,
  };
}

/** What an agent test runs against: a SoftHSM module with its tokens, a private NATS with the test's bus, a state directory. */
export interface AgentTestWorld {
  hsm: SoftHsmEnvironment;
  nats: TestNats;
  bus: AgentBus;
  stateDir: string;
  /** Stops the agent (when given) and everything the world started, and removes its directories. */
  close(agent?: { close(): Promise<void> }): Promise<void>;
}

/**
 * Starts an agent test's world: `tokens` makes the tokens (before anything opens the module, and with
 * SOFTHSM2_CONF pointing at it for this process, as the agent's module reads it), then the NATS server,
 * the bus and the state directory (`thk-<name>-…` under the temp directory).
 */
export async function agentTestWorld(name: string, tokens: (hsm: SoftHsmEnvironment) => Promise<void>): Promise<AgentTestWorld> {
  const hsm = await createSoftHsm();
  let nats: TestNats | undefined;
  let bus: AgentBus | undefined;
  let stateDir: string | undefined;
  const close = async (agent?: { close(): Promise<void> }) => {
    await agent?.close();
    await bus?.close();
    await nats?.stop();
    await hsm.cleanup();
    if (stateDir) await rm(stateDir, { recursive: true, force: true });
  };
  try {
    await tokens(hsm);
    process.env['SOFTHSM2_CONF'] = hsm.conf;
    nats = await startTestNats();
    bus = await AgentBus.connect(nats.url);
    stateDir = await mkdtemp(join(tmpdir(), `thk-${name}-`));
    return { hsm, nats, bus, stateDir, close };
  } catch (error) {
    await close();
    throw error;
  }
}

/** A debug logger with the agent's redaction whose lines land in `lines` (for tests that look for secrets in them). */
export function capturingLogger(lines: string[]): Logger {
  const sink = new Writable({ write(chunk, _enc, cb) { lines.push(String(chunk)); cb(); } });
  return pino({ level: 'debug', redact: { paths: REDACTED_PATHS, censor: '[redacted]' } }, sink);
}

/** The certificate subject the agent tests ask the token's CSR for. */
export const TEST_SUBJECT = {
  commonName: 'Тест Тест Тест', surname: 'Тест', givenName: 'Тест Тест', serialNumber: 'TINUA-1111111111',
  organization: null, organizationIdentifier: null, title: null, country: 'UA' as const,
};

/** A certificate for the key of a CSR (base64 DER, as `TokenKeyGenerated` carries it), from a throw-away test CA: DER. */
export async function certificateForCsr(csrBase64: string, serialNumber: string): Promise<Buffer> {
  const ca = await webcrypto.subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-256' }, true, ['sign', 'verify']) as CryptoKeyPair;
  const csr = new Pkcs10CertificateRequest(Buffer.from(csrBase64, 'base64'));
  const cert = await X509CertificateGenerator.create({
    serialNumber, subject: csr.subjectName, issuer: 'CN=Test CA, C=UA', notBefore: new Date(Date.now() - 60_000), notAfter: new Date(Date.now() + 86_400_000),
    publicKey: await csr.publicKey.export(webcrypto as unknown as Crypto), signingKey: ca.privateKey, signingAlgorithm: { name: 'ECDSA', hash: 'SHA-256' },
  }, webcrypto as unknown as Crypto);
  return Buffer.from(cert.rawData);
}

export class AgentBus {
  /** Stored messages are immutable: each is fetched once, by sequence. */
  private readonly cache = new Map<number, { subject: string; envelope: Envelope } | null>();

  private constructor(readonly nc: NatsConnection) {}

  static async connect(url: string, auth: { user: string; pass: string } | undefined = undefined): Promise<AgentBus> {
    const nc = await connect({ servers: url, name: 'agent-test', ...(auth ?? {}) });
    await provisionStreams(nc, defaultStreamSpecs());
    return new AgentBus(nc);
  }

  /** Sends a command to an agent; `msgId` other than the envelope id makes JetStream store it again (a redelivery as issuance would cause). */
  async send<C extends MessageContract<string, any, { agentId: string }>>(contract: C, agentId: string, data: MessageData<C>, options: { envelope?: Envelope; msgId?: string; correlationId?: string } = {}): Promise<Envelope> {
    const envelope = options.envelope ?? createEnvelope(contract, data, { source: 'issuance', correlationId: options.correlationId ?? randomUUID(), causationId: null });
    const h = headers();
    h.set('Thk-Type', `${envelope.type}@${envelope.version}`);
    await jetstream(this.nc).publish(contract.subject({ agentId }), new TextEncoder().encode(JSON.stringify(envelope)), { msgID: options.msgId ?? envelope.id, headers: h });
    return envelope;
  }

  /** Every message the AGENTS stream holds under `subjectPrefix` (the stream, not core NATS: JetStream's de-duplication counts). */
  async stored(subjectPrefix: string): Promise<Array<{ subject: string; envelope: Envelope }>> {
    const jsm = await jetstreamManager(this.nc);
    const info = await jsm.streams.info(streams.agents.name);
    const out: Array<{ subject: string; envelope: Envelope }> = [];
    for (let seq = info.state.first_seq; seq <= info.state.last_seq && info.state.messages > 0; seq++) {
      if (!this.cache.has(seq)) {
        const m = await jsm.streams.getMessage(streams.agents.name, { seq }); // null for a deleted sequence; any other error fails the test
        this.cache.set(seq, m ? { subject: m.subject, envelope: m.json<Envelope>() } : null);
      }
      const cached = this.cache.get(seq);
      if (cached && cached.subject.startsWith(subjectPrefix)) out.push(structuredClone(cached));
    }
    return out;
  }

  /** The events of one type an agent published, waiting up to `timeoutMs` until `count` are there. */
  async events<T = unknown>(agentId: string, type: string, options: { count?: number; timeoutMs?: number; where?: (e: Envelope<T>) => boolean } = {}): Promise<Array<Envelope<T>>> {
    const deadline = Date.now() + (options.timeoutMs ?? 10_000);
    for (;;) {
      const found = (await this.stored(`agent.${agentId}.evt.`)).map((m) => m.envelope as Envelope<T>).filter((e) => e.type === type && (!options.where || options.where(e)));
      if (found.length >= (options.count ?? 1) || Date.now() > deadline) return found;
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  /** Waits until an agent's durable consumer has nothing pending or unacknowledged (its effects are done). */
  async drained(agentId: string, timeoutMs = 10_000): Promise<void> {
    const jsm = await jetstreamManager(this.nc);
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const info = await jsm.consumers.info(streams.agents.name, `agent-${agentId}`).catch(() => undefined);
      if (info && info.num_pending === 0 && info.num_ack_pending === 0) return;
      if (Date.now() > deadline) throw new Error(`agent-${agentId} still has work after ${timeoutMs} ms`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  async close(): Promise<void> {
    await this.nc.drain().catch(() => undefined);
  }
}
