import 'reflect-metadata';
import { execFile } from 'node:child_process';
import { webcrypto } from 'node:crypto';
import { appendFile, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { X509CertificateGenerator } from '@peculiar/x509';
import {
  AgentInventoryReportedV1, DestroyTokenKeyV1, GenerateTokenKeyV1, InstallCertificateV1, type CertificateInstalledV1,
  type CertificateInstallFailedV1, type Envelope, type GenerateTokenKeyV1 as GenerateData, type TokenKeyDestroyedV1,
  type TokenKeyGeneratedV1, type TokenKeyGenerationFailedV1,
} from '@thk/contracts';
import { setSoftHsmTokenFlags } from '@thk/pkcs11';
import type { SoftHsmEnvironment, TestNats } from '@thk/testing';
import { AgentJournal } from './journal/agent-journal.js';
import { agentTestWorld, capturingLogger, certificateForCsr, sealPin, testAgentConfig, TEST_SUBJECT, type AgentBus, type AgentTestWorld } from './testing/agent-test-kit.js';
import { startTokenAgent, type RunningTokenAgent } from './token-agent.app.js';

const run = promisify(execFile);
const AGENT = 'agent-int';
const SO_PIN = 'so-pin-8765';
const OLD_PIN = 'old-pin-1234';

describe('token agent (SoftHSM2, NATS)', () => {
  let world: AgentTestWorld | undefined;
  let hsm: SoftHsmEnvironment;
  let nats: TestNats;
  let bus: AgentBus;
  let agent: RunningTokenAgent;
  let stateDir: string;
  const logLines: string[] = [];
  /** Every PIN the tests hand to the agent: none may show up in a log line, an event or the journal. */
  const pinsUsed = new Set<string>([SO_PIN, OLD_PIN, 'whatever-123']);
  const serials: Record<string, string> = {};

  const inventory = async (where: (e: Envelope<AgentInventoryReportedV1>) => boolean) =>
    (await bus.events<AgentInventoryReportedV1>(AGENT, AgentInventoryReportedV1.type, { where })).at(-1);
  const tokenOf = async (label: string) => {
    const report = await inventory((e) => e.data.tokens.some((t) => t.label === label));
    const t = report?.data.tokens.find((x) => x.label === label);
    if (!t) throw new Error(`token ${label} not reported`);
    return t;
  };
  const p11 = (label: string, args: string[]) => run('pkcs11-tool', ['--module', hsm.modulePath, '--token-label', label, ...args], { env: { ...process.env, ...hsm.env }, encoding: 'utf8' });
  const objectsOf = async (label: string, pin: string) => (await p11(label, ['--login', '--pin', pin, '-O'])).stdout.split(/\n(?=\S)/).map((b) => b.trim()).filter(Boolean);
  const seal = async (pin: string) => { pinsUsed.add(pin); return sealPin(agent.sealingKey, pin); };

  async function generate(label: string, data: Partial<GenerateData> & { newPin: string; currentPin?: string | null }, options: { envelope?: Envelope } = {}) {
    const { newPin, currentPin, ...rest } = data;
    const body: GenerateData = {
      requestId: crypto.randomUUID(), tokenSerial: serials[label]!, algorithm: 'EC-P256', label: `thk-${label}`, subject: TEST_SUBJECT,
      sealedNewPin: await seal(newPin), sealedCurrentPin: currentPin ? await seal(currentPin) : null, ...rest,
    };
    return bus.send(GenerateTokenKeyV1, AGENT, body, options);
  }
  const outcome = async (requestId: string) => {
    const deadline = Date.now() + 15_000;
    for (;;) {
      const all = (await bus.stored(`agent.${AGENT}.evt.`)).map((m) => m.envelope as Envelope<{ requestId?: string }>).filter((e) => e.data.requestId === requestId);
      if (all.length > 0 || Date.now() > deadline) return all;
      await new Promise((r) => setTimeout(r, 50));
    }
  };

  beforeAll(async () => {
    world = await agentTestWorld('agent', async (h) => {
      for (const label of ['fresh', 'used', 'locked', 'doomed', 'spare']) {
        await h.createToken({ label, soPin: SO_PIN, ...(label === 'fresh' ? {} : { userPin: OLD_PIN }) });
      }
    });
    ({ hsm, nats, bus, stateDir } = world);
    agent = await startTokenAgent(testAgentConfig({ agentId: AGENT, natsUrl: nats.url, modulePath: hsm.modulePath, soPin: SO_PIN, stateDir, rescan: 'reinitialize' }), { logger: capturingLogger(logLines) });
    for (const label of ['fresh', 'used', 'locked', 'doomed', 'spare']) serials[label] = (await tokenOf(label)).serial;
  });

  afterAll(async () => {
    await world?.close(agent);
  });

  describe('inventory', () => {
    it('reports its tokens with their PIN state and algorithms, and its public sealing key, at start', async () => {
      const first = (await bus.events<AgentInventoryReportedV1>(AGENT, AgentInventoryReportedV1.type))[0]!;
      expect(first.data).toMatchObject({ agentId: AGENT, heartbeatSeconds: 60, sealingKey: { kty: 'EC', crv: 'P-256', alg: 'ECDH-ES', use: 'enc', kid: agent.sealingKey.kid } });
      expect(first.data.sealingKey).not.toHaveProperty('d');
      expect(first.data.tokens.map((t) => t.label).sort()).toEqual(['doomed', 'fresh', 'locked', 'spare', 'used']);
      expect(first.data.tokens.find((t) => t.label === 'fresh')).toMatchObject({ model: 'SoftHSM v2', manufacturer: 'SoftHSM project', userPinInitialized: false, userPinLocked: false, algorithms: ['EC-P256', 'RSA-2048'] });
      expect(first.data.tokens.find((t) => t.label === 'used')).toMatchObject({ userPinInitialized: true });
      const keyFile = await readFile(join(stateDir, 'sealing-key.jwk.json'), 'utf8');
      expect(JSON.parse(keyFile).jwk.d).toBeDefined();
      const { stdout } = await run('stat', ['-c', '%a', join(stateDir, 'sealing-key.jwk.json')], { encoding: 'utf8' });
      expect(stdout.trim()).toBe('600');
    });

    it('reports again when a token is inserted and when one is removed', async () => {
      await hsm.createToken({ label: 'inserted', soPin: SO_PIN, userPin: OLD_PIN });
      const withIt = await inventory((e) => e.data.tokens.some((t) => t.label === 'inserted'));
      expect(withIt).toBeDefined();
      const serial = withIt!.data.tokens.find((t) => t.label === 'inserted')!.serial;
      await run('softhsm2-util', ['--delete-token', '--serial', serial], { env: { ...process.env, ...hsm.env } });
      const deadline = Date.now() + 10_000;
      let latest = withIt!;
      while (Date.now() < deadline && latest.data.tokens.some((t) => t.label === 'inserted')) {
        latest = (await inventory(() => true))!;
        await new Promise((r) => setTimeout(r, 100));
      }
      expect(latest.data.tokens.map((t) => t.label)).not.toContain('inserted');
    });
  });

  describe('GenerateTokenKey', () => {
    let freshResult: Envelope<TokenKeyGeneratedV1>;
    const FRESH_PIN = 'first-pin-0001';

    it('sets the first PIN of a token without one (C_InitPIN), generates the key and publishes a CSR that openssl verifies', async () => {
      const cmd = await generate('fresh', { newPin: FRESH_PIN });
      const [event] = await outcome((cmd.data as GenerateData).requestId);
      expect(event?.type).toBe('TokenKeyGenerated');
      freshResult = event as Envelope<TokenKeyGeneratedV1>;
      expect(freshResult).toMatchObject({ source: 'token-agent', correlationId: cmd.correlationId, causationId: cmd.id });
      expect(freshResult.data).toMatchObject({ tokenSerial: serials['fresh'], algorithm: 'EC-P256', evidence: { local: true, neverExtractable: true, alwaysSensitive: true, attestation: null } });
      expect(freshResult.data.keyId).toMatch(/^[0-9a-f]{32}$/);

      const file = join(stateDir, 'fresh.csr.der');
      await writeFile(file, Buffer.from(freshResult.data.csr, 'base64'));
      const { stdout, stderr } = await run('openssl', ['req', '-inform', 'DER', '-in', file, '-noout', '-verify', '-subject', '-nameopt', 'utf8,sep_comma_plus'], { encoding: 'utf8' });
      expect(`${stdout}${stderr}`).toMatch(/verify OK/i);
      expect(stdout).toContain('CN=Тест Тест Тест');
      expect(stdout).toContain('serialNumber=TINUA-1111111111');
      expect(stdout).toContain('C=UA');

      const objects = await objectsOf('fresh', FRESH_PIN);
      const priv = objects.filter((o) => o.startsWith('Private Key Object') && o.includes(`ID:         ${freshResult.data.keyId}`));
      expect(priv).toHaveLength(1);
      expect(priv[0]).toContain('label:      thk-fresh');
      expect(priv[0]).toMatch(/Usage:\s+sign\n/);
      expect(priv[0]).toMatch(/Access:\s+sensitive, always sensitive, never extractable, local/);
      // The next slot poll reports the PIN set (the report after the command may not be out yet: wait for it).
      const reported = await inventory((e) => e.data.tokens.some((t) => t.label === 'fresh' && t.userPinInitialized));
      expect(reported?.data.tokens.find((t) => t.label === 'fresh')?.userPinInitialized).toBe(true);
    });

    it('changes the PIN of a token that has one (C_SetPIN from the sealed current password)', async () => {
      const cmd = await generate('used', { newPin: 'changed-pin-42', currentPin: OLD_PIN });
      const [event] = await outcome((cmd.data as GenerateData).requestId);
      expect(event?.type).toBe('TokenKeyGenerated');
      await expect(objectsOf('used', OLD_PIN)).rejects.toThrow();
      expect((await objectsOf('used', 'changed-pin-42')).filter((o) => o.startsWith('Private Key Object'))).toHaveLength(1);
    });

    it('does not generate a second key when the command is delivered again, and republishes the same result', async () => {
      const cmd = await generate('spare', { newPin: 'spare-pin-777', currentPin: OLD_PIN });
      const requestId = (cmd.data as GenerateData).requestId;
      const [first] = await outcome(requestId);
      expect(first?.type).toBe('TokenKeyGenerated');
      await bus.send(GenerateTokenKeyV1, AGENT, cmd.data as GenerateData, { envelope: cmd, msgId: `${cmd.id}-redelivered` });
      await bus.drained(AGENT);
      expect(logLines.some((l) => l.includes(requestId) && l.includes('publishing the same result again'))).toBe(true);
      expect(await outcome(requestId)).toEqual([first]);
      expect((await objectsOf('spare', 'spare-pin-777')).filter((o) => o.startsWith('Private Key Object'))).toHaveLength(1);
    });

    it('refuses a locked PIN with token-pin-locked without trying it (the right one would have worked)', async () => {
      await setSoftHsmTokenFlags(hsm.tokenDir, serials['locked']!, { set: ['CKF_USER_PIN_LOCKED'] });
      const cmd = await generate('locked', { newPin: 'never-set-001', currentPin: OLD_PIN });
      const [event] = await outcome((cmd.data as GenerateData).requestId) as Array<Envelope<TokenKeyGenerationFailedV1>>;
      expect(event?.type).toBe('TokenKeyGenerationFailed');
      expect(event?.data.code).toBe('token-pin-locked');
      await setSoftHsmTokenFlags(hsm.tokenDir, serials['locked']!, { clear: ['CKF_USER_PIN_LOCKED'] });
      // The PIN is unchanged and nothing was created: no login ever reached the token.
      expect((await objectsOf('locked', OLD_PIN)).filter((o) => o.includes('thk-locked'))).toEqual([]);
    });

    it.each([
      ['a new password sealed to another key', 'sealed-password-invalid', async () => ({ sealedNewPin: await sealPin(await otherKey(), 'whatever-123') })],
      ['a wrong current password', 'wrong-token-password', async () => ({ sealedCurrentPin: await seal('not-the-pin-9') })],
      ['a new password shorter than the policy allows', 'pin-policy', async () => ({ sealedNewPin: await seal('12345') })],
      ['a token that is not connected', 'token-absent', async () => ({ tokenSerial: 'no-such-token' })],
    ])('answers %s with %s', async (_case, code, override) => {
      const cmd = await generate('locked', { newPin: 'valid-pin-001', currentPin: OLD_PIN, ...(await override()) });
      const [event] = await outcome((cmd.data as GenerateData).requestId) as Array<Envelope<TokenKeyGenerationFailedV1>>;
      expect(event?.type).toBe('TokenKeyGenerationFailed');
      expect(event?.data.code).toBe(code);
      expect(event?.data.message.length).toBeGreaterThan(0);
    });

    it('answers a token removed from the workstation with token-absent', async () => {
      await run('softhsm2-util', ['--delete-token', '--serial', serials['doomed']!], { env: { ...process.env, ...hsm.env } });
      const cmd = await generate('doomed', { newPin: 'valid-pin-001', currentPin: OLD_PIN });
      const [event] = await outcome((cmd.data as GenerateData).requestId) as Array<Envelope<TokenKeyGenerationFailedV1>>;
      expect(event?.data).toMatchObject({ code: 'token-absent', tokenSerial: serials['doomed'] });
    });

    describe('InstallCertificate', () => {
      let certificate: Buffer;

      beforeAll(async () => {
        certificate = await certificateForCsr(freshResult.data.csr, '00c0ffee01');
      });

      it('writes the certificate under the key ID, checks it against the key and publishes CertificateInstalled', async () => {
        const data = { requestId: freshResult.data.requestId, tokenSerial: serials['fresh']!, keyId: freshResult.data.keyId, certificate: certificate.toString('base64') };
        const cmd = await bus.send(InstallCertificateV1, AGENT, data);
        const installed = await bus.events<CertificateInstalledV1>(AGENT, 'CertificateInstalled', { where: (e) => e.data.requestId === data.requestId });
        expect(installed).toHaveLength(1);
        expect(installed[0]!.data).toEqual({ requestId: data.requestId, tokenSerial: serials['fresh'], keyId: data.keyId, certificateSerialNumber: 'c0ffee01' });
        expect(installed[0]!.causationId).toBe(cmd.id);
        const underId = (await objectsOf('fresh', FRESH_PIN)).filter((o) => o.includes(`ID:         ${data.keyId}`));
        expect(underId.map((o) => o.split(' Object')[0]).sort()).toEqual(['Certificate', 'Private Key', 'Public Key']);
        expect(underId.find((o) => o.startsWith('Certificate'))).toContain('label:      thk-fresh');

        await bus.send(InstallCertificateV1, AGENT, data, { envelope: cmd, msgId: `${cmd.id}-again` });
        await bus.drained(AGENT);
        expect(await bus.events(AGENT, 'CertificateInstalled', { where: (e: Envelope<{ requestId: string }>) => e.data.requestId === data.requestId })).toHaveLength(1);
        expect((await objectsOf('fresh', FRESH_PIN)).filter((o) => o.startsWith('Certificate'))).toHaveLength(1);
      });

      it('refuses a certificate whose public key is not the key\'s with certificate-mismatch', async () => {
        const generateKey = () => webcrypto.subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-256' }, true, ['sign', 'verify']) as Promise<CryptoKeyPair>;
        const [other, ca] = await Promise.all([generateKey(), generateKey()]);
        const cert = await X509CertificateGenerator.create({
          serialNumber: '02', subject: 'CN=Someone else', issuer: 'CN=Test CA', notBefore: new Date(), notAfter: new Date(Date.now() + 86_400_000),
          publicKey: other.publicKey, signingKey: ca.privateKey, signingAlgorithm: { name: 'ECDSA', hash: 'SHA-256' },
        }, webcrypto as unknown as Crypto);
        const requestId = crypto.randomUUID();
        await bus.send(InstallCertificateV1, AGENT, { requestId, tokenSerial: serials['fresh']!, keyId: freshResult.data.keyId, certificate: Buffer.from(cert.rawData).toString('base64') });
        const [failed] = await bus.events<CertificateInstallFailedV1>(AGENT, 'CertificateInstallFailed', { where: (e) => e.data.requestId === requestId });
        expect(failed?.data.code).toBe('certificate-mismatch');
      });
    });

    describe('DestroyTokenKey', () => {
      it('destroys exactly the objects it created for the request, nothing else on the token', async () => {
        await p11('fresh', ['--login', '--pin', FRESH_PIN, '--keypairgen', '--key-type', 'EC:prime256v1', '--id', 'b157a9de', '--label', 'bystander']);
        const before = await objectsOf('fresh', FRESH_PIN);
        expect(before.filter((o) => o.includes(freshResult.data.keyId))).toHaveLength(3);
        await bus.send(DestroyTokenKeyV1, AGENT, { requestId: freshResult.data.requestId, tokenSerial: serials['fresh']!, reason: 'ca-rejected', sealedPin: await seal(FRESH_PIN) });
        const [destroyed] = await bus.events<TokenKeyDestroyedV1>(AGENT, 'TokenKeyDestroyed', { where: (e) => e.data.requestId === freshResult.data.requestId });
        expect(destroyed?.data.destroyedObjects).toBe(3);
        const after = await objectsOf('fresh', FRESH_PIN);
        expect(after.filter((o) => o.includes(freshResult.data.keyId))).toEqual([]);
        expect(after).toEqual(before.filter((o) => !o.includes(freshResult.data.keyId)));
        expect(after.filter((o) => o.includes('bystander'))).toHaveLength(2);
      });

      it('destroys nothing for a request it created nothing for, and generates nothing for it afterwards', async () => {
        const requestId = crypto.randomUUID();
        await bus.send(DestroyTokenKeyV1, AGENT, { requestId, tokenSerial: serials['used']!, reason: 'agent-timeout' });
        const [destroyed] = await bus.events<TokenKeyDestroyedV1>(AGENT, 'TokenKeyDestroyed', { where: (e) => e.data.requestId === requestId });
        expect(destroyed?.data.destroyedObjects).toBe(0);
        // The GenerateTokenKey that timed out arrives late: a key made now would be orphaned.
        await generate('used', { requestId, newPin: 'changed-pin-42', currentPin: 'changed-pin-42', label: 'thk-late' });
        const [late] = await bus.events<TokenKeyGenerationFailedV1>(AGENT, 'TokenKeyGenerationFailed', { where: (e) => e.data.requestId === requestId });
        expect(late?.data.code).toBe('token-error');
        expect((await objectsOf('used', 'changed-pin-42')).filter((o) => o.includes('thk-late'))).toEqual([]);
      });
    });

    it('answers an algorithm the token does not offer with algorithm-unsupported', async () => {
      await appendFile(hsm.conf, 'slots.mechanisms = CKM_EC_KEY_PAIR_GEN,CKM_ECDSA,CKM_SHA256\n');
      const cmd = await generate('used', { newPin: 'valid-pin-002', currentPin: 'changed-pin-42', algorithm: 'RSA-2048' });
      const [event] = await outcome((cmd.data as GenerateData).requestId) as Array<Envelope<TokenKeyGenerationFailedV1>>;
      expect(event?.data.code).toBe('algorithm-unsupported');
      // The next inventory shows the token without RSA.
      const report = await inventory((e) => e.data.tokens.some((t) => t.label === 'used' && t.algorithms.join() === 'EC-P256'));
      expect(report).toBeDefined();
    });
  });

  describe('secrets', () => {
    it('never writes a PIN to a log line, an event or the journal', async () => {
      const events = JSON.stringify(await bus.stored(`agent.${AGENT}.`));
      const journal = JSON.stringify(await AgentJournal.read(stateDir));
      const status = await readFile(join(stateDir, 'status.json'), 'utf8');
      expect(logLines.length).toBeGreaterThan(10);
      for (const pin of pinsUsed) {
        expect(logLines.filter((l) => l.includes(pin))).toEqual([]);
        expect(events.includes(pin)).toBe(false);
        expect(journal.includes(pin)).toBe(false);
        expect(status.includes(pin)).toBe(false);
      }
    });
  });
});

async function otherKey() {
  const { generateKeyPair, exportJWK } = await import('jose');
  const pair = await generateKeyPair('ECDH-ES', { crv: 'P-256', extractable: true });
  return exportJWK(pair.publicKey);
}
