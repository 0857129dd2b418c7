import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { AgentInventoryReportedV1, GenerateTokenKeyV1, type Envelope, type TokenKeyGeneratedV1 } from '@thk/contracts';
import type { SoftHsmEnvironment, TestNats } from '@thk/testing';
import { AgentJournal, type JournalEntry } from './journal/agent-journal.js';
import { agentTestWorld, sealPin, TEST_SUBJECT, type AgentBus, type AgentTestWorld } from './testing/agent-test-kit.js';

const run = promisify(execFile);
const appDir = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const SO_PIN = 'so-pin-8765';
const AGENT = 'agent-crash';

interface AgentProcess { child: ChildProcess; output: string[]; exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }> }

/**
 * A crash is a killed process: these tests run the agent as a child process (from its sources) and
 * let it SIGKILL itself at a named point (`THK_TEST_CRASH_AT`), then start it again.
 */
describe('token agent crash recovery (child process, SoftHSM2, NATS)', () => {
  let world: AgentTestWorld | undefined;
  let hsm: SoftHsmEnvironment;
  let nats: TestNats;
  let bus: AgentBus;
  let stateDir: string;
  const running: AgentProcess[] = [];

  function startAgent(extraEnv: Record<string, string> = {}): Promise<AgentProcess> {
    const output: string[] = [];
    const child = spawn(process.execPath, ['--import', join(appDir, 'test/register-ts.mjs'), join(appDir, 'src/main.ts'), 'run'], {
      env: {
        ...process.env, ...hsm.env, NODE_ENV: 'production', LOG_LEVEL: 'info', NATS_URL: nats.url, AGENT_ID: AGENT, PKCS11_MODULE: hsm.modulePath,
        PKCS11_RESCAN: 'reinitialize', AGENT_SO_PIN: SO_PIN, AGENT_STATE_DIR: stateDir, AGENT_POLL_MS: '500', AGENT_ACK_WAIT_SECONDS: '2', ...extraEnv,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((r) => child.once('exit', (code, signal) => r({ code, signal })));
    const proc = { child, output, exited };
    running.push(proc);
    return new Promise((resolveUp, reject) => {
      const onData = (chunk: Buffer) => {
        output.push(String(chunk));
        if (String(chunk).includes('token agent is up')) resolveUp(proc);
      };
      child.stdout!.on('data', onData);
      child.stderr!.on('data', (chunk: Buffer) => output.push(String(chunk)));
      void exited.then((e) => reject(new Error(`agent exited before it was up (${JSON.stringify(e)}):\n${output.join('')}`)));
    });
  }

  /** Expects the agent to print `text`, waiting for it (its log reaches this process through a pipe, after what it did). */
  async function expectPrinted(proc: AgentProcess, text: string, timeoutMs = 10_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!proc.output.join('').includes(text) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    expect(proc.output.join('')).toContain(text);
  }

  /** Runs the CLI as a person at the workstation would. */
  const cli = async (...args: string[]) => {
    const r = await run(process.execPath, ['--import', join(appDir, 'test/register-ts.mjs'), join(appDir, 'src/main.ts'), ...args], {
      env: { ...process.env, ...hsm.env, PKCS11_MODULE: hsm.modulePath, AGENT_STATE_DIR: stateDir }, encoding: 'utf8',
    }).catch((e: { stdout: string; code: number }) => ({ stdout: e.stdout, code: e.code }));
    return { stdout: r.stdout, code: 'code' in r ? r.code : 0 };
  };
  const journalEntry = async (requestId: string): Promise<JournalEntry | undefined> =>
    (await AgentJournal.read(stateDir)).find((e) => e.requestId === requestId);
  const privateKeys = async (label: string, pin: string, keyLabel: string) => {
    const { stdout } = await run('pkcs11-tool', ['--module', hsm.modulePath, '--token-label', label, '--login', '--pin', pin, '-O', '--type', 'privkey'], { env: { ...process.env, ...hsm.env }, encoding: 'utf8' });
    return stdout.split(/\n(?=\S)/).filter((b) => b.startsWith('Private Key Object') && b.includes(`label:      ${keyLabel}`));
  };
  const serialOf = async (label: string) => {
    const [report] = (await bus.events<AgentInventoryReportedV1>(AGENT, AgentInventoryReportedV1.type, { where: (e) => e.data.tokens.some((t) => t.label === label) })).slice(-1);
    return { serial: report!.data.tokens.find((t) => t.label === label)!.serial, sealingKey: report!.data.sealingKey };
  };

  beforeAll(async () => {
    world = await agentTestWorld('agent-crash', async (h) => {
      await h.createToken({ label: 'crash-a', soPin: SO_PIN });
      await h.createToken({ label: 'crash-b', soPin: SO_PIN });
    });
    ({ hsm, nats, bus, stateDir } = world);
  });

  // An agent a failed test left running would take the next test's commands (the same durable).
  const stopAll = async () => {
    for (const p of running) if (p.child.exitCode === null && p.child.signalCode === null) p.child.kill('SIGKILL');
    await Promise.all(running.map((p) => p.exited));
  };
  afterEach(stopAll);

  afterAll(async () => {
    await stopAll();
    await world?.close();
  });

  async function sendGenerate(label: string, newPin: string) {
    const { serial, sealingKey } = await serialOf(label);
    const data = {
      requestId: crypto.randomUUID(), tokenSerial: serial, algorithm: 'EC-P256' as const, label: `thk-${label}`, subject: TEST_SUBJECT,
      sealedNewPin: await sealPin(sealingKey, newPin), sealedCurrentPin: null,
    };
    await bus.send(GenerateTokenKeyV1, AGENT, data);
    return data.requestId;
  }

  it('publishes, once, a result journaled just before a crash when it starts again, without generating again', async () => {
    const first = await startAgent({ THK_TEST_CRASH_AT: 'after-key-generated' });
    const requestId = await sendGenerate('crash-a', 'new-pin-aaaa');
    expect(await first.exited).toEqual({ code: null, signal: 'SIGKILL' });
    const journaled = await journalEntry(requestId);
    expect(journaled?.generation).toMatchObject({ pin: 'set', key: 'created', result: { published: false } });
    expect(await bus.events(AGENT, 'TokenKeyGenerated', { timeoutMs: 0 })).toEqual([]);
    expect(await privateKeys('crash-a', 'new-pin-aaaa', 'thk-crash-a')).toHaveLength(1);
    const afterCrash = await cli('status');
    expect(afterCrash.code).toBe(3);
    expect(afterCrash.stdout).toContain(`Agent ${AGENT}: not running`);
    expect(afterCrash.stdout).toContain(`request ${requestId}`);
    expect(afterCrash.stdout).toContain('key generated, result not yet published');

    const second = await startAgent();
    const published = await bus.events<TokenKeyGeneratedV1>(AGENT, 'TokenKeyGenerated', { where: (e) => e.data.requestId === requestId });
    expect(published).toHaveLength(1);
    expect(published[0]!.id).toBe(journaled!.generation!.result!.envelope.id);
    expect(published[0]!.data.keyId).toBe(journaled!.generation!.keyId);
    await expectPrinted(second, 'published results that an earlier run had journaled but not published');
    // The unacknowledged command comes back after the ack wait: answered from the journal.
    await bus.drained(AGENT, 15_000);
    await expectPrinted(second, 'publishing the same result again');
    expect(await bus.events(AGENT, 'TokenKeyGenerated', { where: (e: Envelope<{ requestId: string }>) => e.data.requestId === requestId, timeoutMs: 0 })).toHaveLength(1);
    expect(await privateKeys('crash-a', 'new-pin-aaaa', 'thk-crash-a')).toHaveLength(1);
    expect((await journalEntry(requestId))?.generation?.result?.published).toBe(true);
    const { serial } = await serialOf('crash-a');
    const [status, tokens] = await Promise.all([cli('status'), cli('tokens')]);
    expect(status.stdout).toMatch(new RegExp(`Agent ${AGENT}: running \\(pid ${second.child.pid}\\)`));
    expect(status.stdout).toContain('Connection: connected to');
    expect(status.stdout).toContain(`${serial}(SoftHSM v2)  label "crash-a"  PIN set`);
    expect(status.stdout).toContain('No unfinished work.');
    expect(tokens.stdout).toContain('Tokens found: 2');
    expect(tokens.stdout).toContain(`${serial}(SoftHSM v2)  label "crash-a"  PIN set  algorithms: EC-P256, RSA-2048`);
    expect(tokens.stdout).toMatch(/\(SoftHSM v2\) {2}label "crash-b" {2}no PIN yet/);
    second.child.kill('SIGTERM');
    expect((await second.exited).code).toBe(0);
  });

  it('finishes a generation interrupted right after the key pair was made, with that pair, when the command comes again', async () => {
    const first = await startAgent({ THK_TEST_CRASH_AT: 'after-keypair-created' });
    const requestId = await sendGenerate('crash-b', 'new-pin-bbbb');
    expect(await first.exited).toEqual({ code: null, signal: 'SIGKILL' });
    const journaled = await journalEntry(requestId);
    expect(journaled?.generation).toMatchObject({ pin: 'set', key: 'generating' });
    expect(journaled?.generation?.result).toBeUndefined();
    const [madeBeforeCrash] = await privateKeys('crash-b', 'new-pin-bbbb', 'thk-crash-b');
    expect(madeBeforeCrash).toContain(`ID:         ${journaled!.generation!.keyId}`);

    const second = await startAgent();
    const published = await bus.events<TokenKeyGeneratedV1>(AGENT, 'TokenKeyGenerated', { where: (e) => e.data.requestId === requestId, timeoutMs: 15_000 });
    expect(published).toHaveLength(1);
    expect(published[0]!.data.keyId).toBe(journaled!.generation!.keyId);
    await expectPrinted(second, 'found the key pair an interrupted attempt generated');
    expect(await privateKeys('crash-b', 'new-pin-bbbb', 'thk-crash-b')).toEqual([madeBeforeCrash]);
    second.child.kill('SIGTERM');
    expect((await second.exited).code).toBe(0);
  });
});
