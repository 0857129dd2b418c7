import 'reflect-metadata';
import { execFile } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { promisify } from 'node:util';
import { DestroyTokenKeyV1, type Envelope, type TokenKeyDestroyedV1 } from '@thk/contracts';
import { setSoftHsmTokenFlags } from '@thk/pkcs11';
import type { SoftHsmEnvironment } from '@thk/testing';
import { AgentJournal, type GenerationRecord } from '../../journal/agent-journal.js';
import { agentTestWorld, capturingLogger, sealPin, testAgentConfig, type AgentBus, type AgentTestWorld } from '../../testing/agent-test-kit.js';
import { startTokenAgent, type RunningTokenAgent } from '../../token-agent.app.js';

const run = promisify(execFile);
const AGENT = 'agent-destroy';
const SO_PIN = 'so-pin-8765';
const OLD_PIN = 'old-pin-1234';
const NEW_PIN = 'new-pin-5678';
const WRONG_PIN = 'wrong-pin-000';

/**
 * `DestroyTokenKey` against what the journal says happened: the agent logs in only when a key pair
 * exists or may exist and the token's PIN is the one the command carries; a private key it could not
 * reach is reported (`privateKeyRemaining`), never passed over in silence. Each case starts from a
 * journal as an earlier run left it (written before the agent starts) and a token in the matching state.
 * SoftHSM sets `CKF_USER_PIN_COUNT_LOW` after a wrong PIN (and clears it after a right one): a token
 * without it afterwards saw no wrong login.
 */
describe('DestroyTokenKey and the journal (SoftHSM2, NATS)', () => {
  let world: AgentTestWorld | undefined;
  let hsm: SoftHsmEnvironment;
  let bus: AgentBus;
  let agent: RunningTokenAgent;
  let stateDir: string;
  const logLines: string[] = [];
  const serials: Record<string, string> = {};
  /** One request per token; `generation` as the journal holds it. */
  const requests: Record<string, { requestId: string; generation: GenerationRecord }> = {};

  const p11 = (label: string, args: string[]) => run('pkcs11-tool', ['--module', hsm.modulePath, '--token-label', label, ...args], { env: { ...process.env, ...hsm.env }, encoding: 'utf8' });
  const objectsOf = async (label: string, pin?: string) => (await p11(label, [...(pin ? ['--login', '--pin', pin] : []), '-O'])).stdout.split(/\n(?=\S)/).map((b) => b.trim()).filter(Boolean);
  const ourObjects = async (label: string, pin?: string) => (await objectsOf(label, pin)).filter((o) => o.includes(`ID:         ${requests[label]!.generation.keyId}`)).map((o) => o.split(' Object')[0]).sort();
  const pinCountLow = async (label: string) => {
    const { stdout } = await run('pkcs11-tool', ['--module', hsm.modulePath, '-L'], { env: { ...process.env, ...hsm.env }, encoding: 'utf8' });
    const block = stdout.split(/\n(?=Slot )/).find((b) => b.includes(`token label        : ${label}\n`));
    if (!block) throw new Error(`token ${label} not listed:\n${stdout}`);
    return /user PIN count low/.test(block);
  };
  const destroy = async (label: string, sealedPin: string | undefined) => {
    const { requestId } = requests[label]!;
    const cmd = await bus.send(DestroyTokenKeyV1, AGENT, { requestId, tokenSerial: serials[label]!, reason: 'ca-rejected', ...(sealedPin ? { sealedPin } : {}) });
    const [event] = await bus.events<TokenKeyDestroyedV1>(AGENT, 'TokenKeyDestroyed', { where: (e: Envelope<TokenKeyDestroyedV1>) => e.causationId === cmd.id });
    if (!event) throw new Error(`no TokenKeyDestroyed for ${label}`);
    return event.data;
  };
  const seal = (pin: string) => sealPin(agent.sealingKey, pin);

  /** A token with its PIN, a journal record of the request, and the key pair the record says may exist. */
  async function prepare(label: string, tokenPin: string, record: Pick<GenerationRecord, 'pin' | 'key'>): Promise<void> {
    await hsm.createToken({ label, soPin: SO_PIN, userPin: tokenPin });
    const generation: GenerationRecord = {
      commandId: randomUUID(), correlationId: randomUUID(), algorithm: 'EC-P256', label: `thk-${label}`, keyId: randomBytes(16).toString('hex'), ...record,
    };
    requests[label] = { requestId: randomUUID(), generation };
    if (record.key !== 'none') {
      await p11(label, ['--login', '--pin', tokenPin, '--keypairgen', '--key-type', 'EC:prime256v1', '--id', generation.keyId, '--label', generation.label]);
    }
  }

  beforeAll(async () => {
    world = await agentTestWorld('agent-destroy', async (h) => {
      hsm = h;
      // Stopped while changing the PIN (C_SetPIN may or may not have happened): no key was made.
      await prepare('mid-change', OLD_PIN, { pin: 'changing', key: 'none' });
      // A journal that cannot vouch for the PIN although a pair may exist (defensive: never written in this order).
      await prepare('pin-unknown', OLD_PIN, { pin: 'changing', key: 'generating' });
      // The key was made with the new PIN set: the PIN the command carries is the token's.
      await prepare('locked', NEW_PIN, { pin: 'set', key: 'created' });
      await prepare('refused', NEW_PIN, { pin: 'set', key: 'created' });
    });
    ({ bus, stateDir } = world);
    const { stdout } = await run('pkcs11-tool', ['--module', hsm.modulePath, '-L'], { env: { ...process.env, ...hsm.env }, encoding: 'utf8' });
    for (const block of stdout.split(/\n(?=Slot )/)) {
      const label = /token label\s+:\s*(\S+)/.exec(block)?.[1];
      const serial = /serial num\s+:\s*(\S+)/.exec(block)?.[1];
      if (label && serial) serials[label] = serial;
    }
    const journal = await AgentJournal.open(stateDir);
    for (const [label, { requestId, generation }] of Object.entries(requests)) {
      await journal.update(requestId, serials[label]!, (e) => { e.generation = generation; });
    }
    agent = await startTokenAgent(testAgentConfig({ agentId: AGENT, natsUrl: world.nats.url, modulePath: hsm.modulePath, soPin: SO_PIN, stateDir, rescan: 'reinitialize' }), { logger: capturingLogger(logLines) });
  });

  afterAll(async () => {
    await world?.close(agent);
  });

  it('does not log in when the agent stopped while changing the PIN and made no key: nothing to destroy, nothing left', async () => {
    expect(await pinCountLow('mid-change')).toBe(false);
    const event = await destroy('mid-change', await seal(NEW_PIN));
    expect(event).toEqual({ requestId: requests['mid-change']!.requestId, tokenSerial: serials['mid-change'], destroyedObjects: 0 });
    // The new PIN (not the token's) was never tried: no wrong-PIN count, and the old PIN still opens the token.
    expect(await pinCountLow('mid-change')).toBe(false);
    await expect(objectsOf('mid-change', OLD_PIN)).resolves.toBeDefined();
  });

  it('does not log in when the journal cannot vouch for the PIN: destroys the public key and reports the private one left, token-password-unknown', async () => {
    expect(await ourObjects('pin-unknown', OLD_PIN)).toEqual(['Private Key', 'Public Key']);
    const event = await destroy('pin-unknown', await seal(NEW_PIN));
    expect(event).toMatchObject({ destroyedObjects: 1, privateKeyRemaining: { code: 'token-password-unknown' } });
    expect(event.privateKeyRemaining?.message).toMatch(/did not risk a login/);
    expect(await pinCountLow('pin-unknown')).toBe(false);
    expect(await ourObjects('pin-unknown', OLD_PIN)).toEqual(['Private Key']);
  });

  it('reports the private key left on a locked token (no login attempted), removes it once unlocked, and needs no login after that', async () => {
    await setSoftHsmTokenFlags(hsm.tokenDir, serials['locked']!, { set: ['CKF_USER_PIN_LOCKED'] });
    const refused = await destroy('locked', await seal(NEW_PIN));
    expect(refused).toMatchObject({ destroyedObjects: 1, privateKeyRemaining: { code: 'token-pin-locked' } });
    expect(refused.privateKeyRemaining?.message).toMatch(/locked/);
    await setSoftHsmTokenFlags(hsm.tokenDir, serials['locked']!, { clear: ['CKF_USER_PIN_LOCKED'] });
    expect(await ourObjects('locked', NEW_PIN)).toEqual(['Private Key']);

    const again = await destroy('locked', await seal(NEW_PIN));
    expect(again).toEqual({ requestId: requests['locked']!.requestId, tokenSerial: serials['locked'], destroyedObjects: 1 });
    expect(await ourObjects('locked', NEW_PIN)).toEqual([]);

    // The journal now says the private key is gone: a further command destroys nothing and does not need the PIN.
    await setSoftHsmTokenFlags(hsm.tokenDir, serials['locked']!, { set: ['CKF_USER_PIN_LOCKED'] });
    const third = await destroy('locked', await seal(NEW_PIN));
    expect(third).toEqual({ requestId: requests['locked']!.requestId, tokenSerial: serials['locked'], destroyedObjects: 0 });
    await setSoftHsmTokenFlags(hsm.tokenDir, serials['locked']!, { clear: ['CKF_USER_PIN_LOCKED'] });
  });

  it('reports the private key left without a PIN (no-token-password) and after a refused login (wrong-token-password)', async () => {
    const withoutPin = await destroy('refused', undefined);
    expect(withoutPin).toMatchObject({ destroyedObjects: 1, privateKeyRemaining: { code: 'no-token-password' } });
    expect(await pinCountLow('refused')).toBe(false);

    const wrong = await destroy('refused', await seal(WRONG_PIN));
    expect(wrong).toMatchObject({ destroyedObjects: 0, privateKeyRemaining: { code: 'wrong-token-password' } });
    expect(await ourObjects('refused', NEW_PIN)).toEqual(['Private Key']);
  });

  it('never writes a PIN to a log line, an event or the journal', async () => {
    const events = JSON.stringify(await bus.stored(`agent.${AGENT}.`));
    const journal = JSON.stringify(await AgentJournal.read(stateDir));
    expect(logLines.length).toBeGreaterThan(5);
    for (const pin of [SO_PIN, OLD_PIN, NEW_PIN, WRONG_PIN]) {
      expect(logLines.filter((l) => l.includes(pin))).toEqual([]);
      expect(events.includes(pin)).toBe(false);
      expect(journal.includes(pin)).toBe(false);
    }
  });
});
