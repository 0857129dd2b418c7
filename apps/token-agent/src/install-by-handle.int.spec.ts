import 'reflect-metadata';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { pino } from 'pino';
import { jest } from '@jest/globals';
import {
  GenerateTokenKeyV1, InstallCertificateV1, type CertificateInstalledV1, type Envelope, type GenerateTokenKeyV1 as GenerateData, type TokenKeyGeneratedV1,
} from '@thk/contracts';
import { Pkcs11Module, TokenSession } from '@thk/pkcs11';
import type { SoftHsmEnvironment, TestNats } from '@thk/testing';
import { TEST_SUBJECT, agentTestWorld, certificateForCsr, sealPin, testAgentConfig, type AgentBus, type AgentTestWorld } from './testing/agent-test-kit.js';
import { startTokenAgent, type RunningTokenAgent } from './token-agent.app.js';

const run = promisify(execFile);
const AGENT = 'agent-handles';
const SO_PIN = 'so-pin-8765';
const PIN = 'user-pin-1234';

/**
 * The install of a certificate for a pair this agent generated, in `slot-list` mode (a token present
 * before the agent starts, as with a hardware token's module): the pair is addressed by the handles its
 * generation got, which a session the agent keeps open holds valid, instead of a search of the token
 * by `CKA_ID` (linear in its objects in SoftHSM, APDUs on a card).
 */
describe('token agent: installing by the generated pair\'s handles (slot-list mode)', () => {
  let world: AgentTestWorld | undefined;
  let hsm: SoftHsmEnvironment;
  let nats: TestNats;
  let bus: AgentBus;
  let agent: RunningTokenAgent | undefined;
  let stateDir: string;
  let serial: string;
  let pin = PIN;
  let n = 0;

  const start = async () => {
    agent = await startTokenAgent(testAgentConfig({ agentId: AGENT, natsUrl: nats.url, modulePath: hsm.modulePath, soPin: SO_PIN, stateDir, rescan: 'slot-list' }), { logger: pino({ level: 'silent' }) });
    return agent;
  };

  /** Has the agent generate a pair (changing the PIN); answers its request id and `TokenKeyGenerated`. */
  async function generate(label: string): Promise<{ requestId: string; generated: Envelope<TokenKeyGeneratedV1> }> {
    const newPin = `user-pin-${label}`;
    const requestId = crypto.randomUUID();
    const data: GenerateData = {
      requestId, tokenSerial: serial, algorithm: 'EC-P256', label: `thk-${label}`, subject: TEST_SUBJECT,
      sealedNewPin: await sealPin(agent!.sealingKey, newPin), sealedCurrentPin: await sealPin(agent!.sealingKey, pin),
    };
    await bus.send(GenerateTokenKeyV1, AGENT, data);
    const [generated] = await bus.events<TokenKeyGeneratedV1>(AGENT, 'TokenKeyGenerated', { where: (e) => e.data.requestId === requestId });
    pin = newPin;
    return { requestId, generated: generated! };
  }

  /** Has the agent install a certificate for the generated pair; answers `CertificateInstalled` and how many searches the install made. */
  async function install(requestId: string, generated: Envelope<TokenKeyGeneratedV1>, certificateSerial: string): Promise<{ searches: number; installed: Envelope<CertificateInstalledV1> }> {
    const cert = await certificateForCsr(generated.data.csr, certificateSerial);
    const searches = jest.spyOn(TokenSession.prototype, 'findObjects');
    try {
      await bus.send(InstallCertificateV1, AGENT, { requestId, tokenSerial: serial, keyId: generated.data.keyId, certificate: cert.toString('base64') });
      const [installed] = await bus.events<CertificateInstalledV1>(AGENT, 'CertificateInstalled', { where: (e) => e.data.requestId === requestId });
      return { searches: searches.mock.calls.length, installed: installed! };
    } finally {
      searches.mockRestore();
    }
  }

  /** Generates a pair, then has its certificate installed by the same agent process. */
  async function form(): Promise<{ generated: Envelope<TokenKeyGeneratedV1>; searches: number; installed: Envelope<CertificateInstalledV1> }> {
    n++;
    const { requestId, generated } = await generate(String(n));
    return { generated, ...(await install(requestId, generated, `0c0ffee${n}`)) };
  }

  const underId = async (keyId: string) => {
    const { stdout } = await run('pkcs11-tool', ['--module', hsm.modulePath, '--token-label', 'handles', '--login', '--pin', pin, '-O'], { env: { ...process.env, ...hsm.env }, encoding: 'utf8' });
    return stdout.split(/\n(?=\S)/).filter((o) => o.includes(`ID:         ${keyId}`)).map((o) => o.split(' Object')[0]).sort();
  };

  beforeAll(async () => {
    world = await agentTestWorld('agent-handles', async (h) => { await h.createToken({ label: 'handles', soPin: SO_PIN, userPin: PIN }); });
    ({ hsm, nats, bus, stateDir } = world);
    await start();
    const module = Pkcs11Module.open(hsm.modulePath);
    try {
      serial = module.tokens().find((t) => t.label === 'handles')!.serial;
    } finally {
      module.close();
    }
  });

  afterAll(async () => {
    await world?.close(agent);
  });

  it('installs the certificate of a pair it generated without searching the token, under the key\'s ID', async () => {
    const { generated, searches, installed } = await form();
    expect(searches).toBe(0);
    expect(installed.data).toMatchObject({ keyId: generated.data.keyId, certificateSerialNumber: 'c0ffee1' });
    expect(await underId(generated.data.keyId)).toEqual(['Certificate', 'Private Key', 'Public Key']);
  });

  it('leaves the token logged out after each command, although a session of it stays open', async () => {
    await form();
    // The same module in this process shares the agent's login state (PKCS#11: the application's).
    const module = Pkcs11Module.open(hsm.modulePath);
    const session = module.openSession(module.tokens().find((t) => t.serial === serial)!.slotId);
    try {
      // Private objects show only to a logged-in application: the token holds private keys, and none shows.
      expect(session.findObjects({ class: 'private-key' })).toEqual([]);
      session.login(pin);
      expect(session.findObjects({ class: 'private-key' }).length).toBeGreaterThan(0);
      session.logout();
    } finally {
      session.close();
      module.close();
    }
  });

  it('searches for the pair after a restart (its handles are gone) and still installs it', async () => {
    const { searches: before } = await form();
    expect(before).toBe(0);
    // A pair generated before the restart, installed after it.
    const { requestId, generated } = await generate('restart');
    await agent!.close();
    await start();
    const { searches, installed } = await install(requestId, generated, '0d00d1');
    expect(installed?.data.certificateSerialNumber).toBe('d00d1');
    expect(searches).toBeGreaterThan(0);
    expect(await underId(generated.data.keyId)).toEqual(['Certificate', 'Private Key', 'Public Key']);
  });
});
