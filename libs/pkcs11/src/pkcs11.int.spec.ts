import 'reflect-metadata';
import { execFile } from 'node:child_process';
import { randomBytes, verify, webcrypto } from 'node:crypto';
import { appendFile, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { BasicConstraintsExtension, X509CertificateGenerator } from '@peculiar/x509';
import { createSoftHsm, type SoftHsmEnvironment } from '@thk/testing';
import {
  PinStateRefusal, Pkcs11Error, Pkcs11Module, createTokenCsr, setSoftHsmTokenFlags, tokenDisplayName, type TokenDescription, type TokenSession,
} from './index.js';

const run = promisify(execFile);
const SO_PIN = '87654321';
const USER_PIN = '123456';

describe('libs/pkcs11 against SoftHSM2', () => {
  let hsm: SoftHsmEnvironment;
  let module: Pkcs11Module;
  const calls: string[] = [];
  let withPin: TokenDescription;
  let blank: TokenDescription;
  let tmp: string;

  const session = (token: TokenDescription): TokenSession => module.openSession(token.slotId);
  const byLabel = (label: string) => {
    const t = module.tokens().find((x) => x.label === label);
    if (!t) throw new Error(`no token ${label}`);
    return t;
  };

  beforeAll(async () => {
    tmp = await mkdtemp(join(tmpdir(), 'thk-pkcs11-'));
    hsm = await createSoftHsm();
    await hsm.createToken({ label: 'with-pin', soPin: SO_PIN, userPin: USER_PIN });
    await hsm.createToken({ label: 'blank-pin', soPin: SO_PIN });
    process.env['SOFTHSM2_CONF'] = hsm.conf;
    module = Pkcs11Module.open(hsm.modulePath, { trace: (fn) => calls.push(fn) });
    withPin = byLabel('with-pin');
    blank = byLabel('blank-pin');
  });

  afterAll(async () => {
    module?.close();
    await hsm?.cleanup();
    await rm(tmp, { recursive: true, force: true });
  });

  describe('Pkcs11Module.tokens', () => {
    it('describes each initialised token with serial, model, label, manufacturer, flags and algorithms', () => {
      const tokens = module.tokens();
      expect(tokens.map((t) => t.label).sort()).toEqual(['blank-pin', 'with-pin']);
      expect(withPin).toMatchObject({
        model: 'SoftHSM v2', manufacturer: 'SoftHSM project', modulePath: hsm.modulePath,
        flags: { initialized: true, userPinInitialized: true, loginRequired: true, userPinLocked: false },
        algorithms: ['EC-P256', 'RSA-2048'],
      });
      expect(withPin.serial).toMatch(/^[0-9a-f]{16}$/);
      expect(withPin.mechanisms.length).toBeGreaterThan(10);
      expect(tokenDisplayName(withPin)).toBe(`${withPin.serial}(SoftHSM v2)`);
      expect(blank.flags.userPinInitialized).toBe(false);
    });

    it('leaves out the free, uninitialised slot that SoftHSM always offers', () => {
      expect(module.slots().filter((s) => s.tokenPresent).length).toBe(3);
      expect(module.tokens()).toHaveLength(2);
    });

    it('sees a token created by another process only after reinitialize (SoftHSM reads its tokens at C_Initialize)', async () => {
      await hsm.createToken({ label: 'late', soPin: SO_PIN, userPin: USER_PIN });
      expect(module.tokens().map((t) => t.label)).not.toContain('late');
      module.reinitialize();
      expect(module.tokens().map((t) => t.label)).toContain('late');
      withPin = byLabel('with-pin');
      blank = byLabel('blank-pin');
    });

    it('refuses to reinitialize while a session is open', () => {
      const s = session(withPin);
      try {
        expect(() => module.reinitialize()).toThrow(Pkcs11Error);
      } finally {
        s.close();
      }
    });
  });

  describe('Pkcs11Module.open', () => {
    it('fails with a typed error naming the function when the module cannot be loaded', () => {
      const error = (() => { try { Pkcs11Module.open('/nonexistent/libnothing.so'); } catch (e) { return e; } return undefined; })();
      expect(error).toBeInstanceOf(Pkcs11Error);
      expect(error).toMatchObject({ ckr: 'NATIVE', fn: 'load', retryable: false, code: 'pkcs11.NATIVE' });
    });

    it('shares one initialisation between two users of the same path', () => {
      const again = Pkcs11Module.open(hsm.modulePath);
      expect(again.tokens()).toHaveLength(module.tokens().length);
      again.close();
      expect(module.tokens().length).toBeGreaterThan(0);
    });
  });

  describe('TokenSession.login', () => {
    it('answers a wrong PIN with CKR_PIN_INCORRECT from C_Login, not retryable, and tries it once', () => {
      const s = session(withPin);
      calls.length = 0;
      try {
        const error = (() => { try { s.login('000000'); } catch (e) { return e; } return undefined; })();
        expect(error).toBeInstanceOf(Pkcs11Error);
        expect(error).toMatchObject({ ckr: 'CKR_PIN_INCORRECT', fn: 'C_Login', retryable: false, code: 'pkcs11.CKR_PIN_INCORRECT' });
        expect(calls.filter((c) => c === 'C_Login')).toHaveLength(1);
        expect(calls.indexOf('C_GetTokenInfo')).toBeLessThan(calls.indexOf('C_Login'));
        expect(s.flags().userPinCountLow).toBe(true);
        s.login(USER_PIN);
      } finally {
        s.close();
      }
    });

    it('refuses a locked PIN without calling C_Login (the right PIN would have worked)', async () => {
      await setSoftHsmTokenFlags(hsm.tokenDir, withPin.serial, { set: ['CKF_USER_PIN_LOCKED'] });
      module.reinitialize();
      const s = session(withPin);
      calls.length = 0;
      try {
        expect(s.flags().userPinLocked).toBe(true);
        expect(() => s.login(USER_PIN)).toThrow(PinStateRefusal);
        expect(calls).not.toContain('C_Login');
      } finally {
        s.close();
        await setSoftHsmTokenFlags(hsm.tokenDir, withPin.serial, { clear: ['CKF_USER_PIN_LOCKED'] });
        module.reinitialize();
      }
    });

    it('refuses a PIN on its final try unless allowed', async () => {
      await setSoftHsmTokenFlags(hsm.tokenDir, withPin.serial, { set: ['CKF_USER_PIN_FINAL_TRY'] });
      module.reinitialize();
      const s = session(withPin);
      calls.length = 0;
      try {
        const error = (() => { try { s.login(USER_PIN); } catch (e) { return e; } return undefined; })();
        expect(error).toMatchObject({ code: 'pkcs11.pin-final-try', meta: { attempted: false } });
        expect(calls).not.toContain('C_Login');
        s.login(USER_PIN, { allowFinalTry: true });
        expect(calls).toContain('C_Login');
      } finally {
        s.close();
        await setSoftHsmTokenFlags(hsm.tokenDir, withPin.serial, { clear: ['CKF_USER_PIN_FINAL_TRY'] });
        module.reinitialize();
      }
    });
  });

  describe('TokenSession.initUserPin and setPin', () => {
    it('sets the first user PIN from an SO session, then changes it from the user PIN', () => {
      const s = session(blank);
      try {
        expect(s.flags().userPinInitialized).toBe(false);
        s.login(SO_PIN, { as: 'so' });
        s.initUserPin('first-pin-1');
        s.logout();
        expect(s.flags().userPinInitialized).toBe(true);
        s.login('first-pin-1');
        s.setPin('first-pin-1', 'second-pin-2');
        s.logout();
        expect(() => s.login('first-pin-1')).toThrow(expect.objectContaining({ ckr: 'CKR_PIN_INCORRECT' }));
        s.login('second-pin-2');
      } finally {
        s.close();
      }
    });
  });

  describe('TokenSession.generateKeyPair', () => {
    let s: TokenSession;
    beforeAll(() => { s = session(withPin); s.login(USER_PIN); });
    afterAll(() => s.close());

    it('generates a P-256 pair with the secure template and reads every attribute back', async () => {
      const id = randomBytes(16);
      const pair = await s.generateKeyPair({ algorithm: 'EC-P256', id, label: 'req-ec' });
      expect(s.getAttributes(pair.privateKey, [
        'CKA_CLASS', 'CKA_KEY_TYPE', 'CKA_TOKEN', 'CKA_PRIVATE', 'CKA_SENSITIVE', 'CKA_EXTRACTABLE', 'CKA_ID', 'CKA_LABEL',
        'CKA_SIGN', 'CKA_DECRYPT', 'CKA_UNWRAP', 'CKA_SIGN_RECOVER', 'CKA_DERIVE',
        'CKA_LOCAL', 'CKA_NEVER_EXTRACTABLE', 'CKA_ALWAYS_SENSITIVE',
      ])).toEqual({
        CKA_CLASS: 3, CKA_KEY_TYPE: 3, CKA_TOKEN: true, CKA_PRIVATE: true, CKA_SENSITIVE: true, CKA_EXTRACTABLE: false,
        CKA_ID: id, CKA_LABEL: 'req-ec', CKA_SIGN: true, CKA_DECRYPT: false, CKA_UNWRAP: false, CKA_SIGN_RECOVER: false,
        CKA_DERIVE: false, CKA_LOCAL: true, CKA_NEVER_EXTRACTABLE: true, CKA_ALWAYS_SENSITIVE: true,
      });
      expect(s.getAttributes(pair.publicKey, [
        'CKA_CLASS', 'CKA_TOKEN', 'CKA_PRIVATE', 'CKA_ID', 'CKA_LABEL', 'CKA_VERIFY', 'CKA_ENCRYPT', 'CKA_WRAP', 'CKA_VERIFY_RECOVER', 'CKA_DERIVE', 'CKA_EC_PARAMS', 'CKA_LOCAL',
      ])).toEqual({
        CKA_CLASS: 2, CKA_TOKEN: true, CKA_PRIVATE: false, CKA_ID: id, CKA_LABEL: 'req-ec', CKA_VERIFY: true, CKA_ENCRYPT: false,
        CKA_WRAP: false, CKA_VERIFY_RECOVER: false, CKA_DERIVE: false, CKA_EC_PARAMS: Buffer.from('06082a8648ce3d030107', 'hex'), CKA_LOCAL: true,
      });
      const refused = (() => { try { s.getAttributes(pair.privateKey, ['CKA_VALUE']); } catch (e) { return e; } return undefined; })();
      expect(refused).toMatchObject({ ckr: 'CKR_ATTRIBUTE_SENSITIVE', fn: 'C_GetAttributeValue', retryable: false });
    });

    it('signs with the token key so that the public key verifies it (raw r‖s)', async () => {
      const pair = await s.generateKeyPair({ algorithm: 'EC-P256', id: randomBytes(16), label: 'req-sign' });
      const data = Buffer.from('to be signed');
      const signature = await s.sign(pair.privateKey, 'EC-P256', data);
      expect(signature).toHaveLength(64);
      const { key } = s.readPublicKey(pair.publicKey);
      expect(verify('sha256', data, { key, dsaEncoding: 'ieee-p1363' }, signature)).toBe(true);
    });

    it('generates an RSA-2048 pair asynchronously, sensitive and sign-only, and signs PKCS#1 v1.5', async () => {
      const pair = await s.generateKeyPair({ algorithm: 'RSA-2048', id: randomBytes(16), label: 'req-rsa' });
      expect(s.getAttributes(pair.privateKey, ['CKA_KEY_TYPE', 'CKA_SENSITIVE', 'CKA_EXTRACTABLE', 'CKA_DECRYPT', 'CKA_SIGN', 'CKA_LOCAL'])).toEqual({
        CKA_KEY_TYPE: 0, CKA_SENSITIVE: true, CKA_EXTRACTABLE: false, CKA_DECRYPT: false, CKA_SIGN: true, CKA_LOCAL: true,
      });
      const { key, algorithm } = s.readPublicKey(pair.publicKey);
      expect(algorithm).toBe('RSA-2048');
      expect(key.asymmetricKeyDetails?.modulusLength).toBe(2048);
      const signature = await s.sign(pair.privateKey, 'RSA-2048', Buffer.from('x'));
      expect(verify('sha256', Buffer.from('x'), key, signature)).toBe(true);
    });
  });

  /** `openssl req -verify` (and `extra`) on the request, written to `name` under the spec's temp dir. */
  const opensslReq = async (csr: { rawData: ArrayBuffer }, name: string, extra: string[] = []) => {
    const file = join(tmp, name);
    await writeFile(file, Buffer.from(csr.rawData));
    return run('openssl', ['req', '-inform', 'DER', '-in', file, '-noout', '-verify', ...extra], { encoding: 'utf8' });
  };

  describe('createTokenCsr', () => {
    it('builds a PKCS#10 request signed on the token that openssl verifies, with the subject', async () => {
      const s = session(withPin);
      try {
        s.login(USER_PIN);
        const pair = await s.generateKeyPair({ algorithm: 'EC-P256', id: randomBytes(16), label: 'req-csr' });
        const csr = await createTokenCsr({ session: s, keyPair: pair, name: [{ CN: [{ utf8String: 'Тест Тест Тест' }] }, { '2.5.4.5': [{ printableString: 'TINUA-1111111111' }] }, { C: [{ printableString: 'UA' }] }] });
        const { stdout, stderr } = await opensslReq(csr, 'req.der', ['-subject', '-nameopt', 'utf8,sep_comma_plus']);
        expect(`${stdout}${stderr}`).toMatch(/verify OK/i);
        expect(stdout).toContain('CN=Тест Тест Тест');
        expect(stdout).toContain('serialNumber=TINUA-1111111111');
      } finally {
        s.close();
      }
    });
  });

  describe('createTokenCsr refuses a request the token key did not sign, and verifies RSA ones too', () => {
    it('throws CKR_SIGNATURE_INVALID when the signature is another key\'s, and returns an RSA-2048 request that openssl verifies', async () => {
      const s = session(withPin);
      try {
        s.login(USER_PIN);
        const pair = await s.generateKeyPair({ algorithm: 'EC-P256', id: randomBytes(16), label: 'req-csr-bad' });
        const stranger = await s.generateKeyPair({ algorithm: 'EC-P256', id: randomBytes(16), label: 'req-csr-stranger' });
        // The session as the token would be if it signed with the wrong key: everything else real.
        const wrongSigner = new Proxy(s, { get: (target, p) => (p === 'sign' ? (_key: unknown, algorithm: 'EC-P256', data: Buffer) => target.sign(stranger.privateKey, algorithm, data) : Reflect.get(target, p, target)) });
        await expect(createTokenCsr({ session: wrongSigner, keyPair: pair, name: [{ CN: [{ utf8String: 'Тест' }] }] })).rejects.toMatchObject({ code: 'pkcs11.CKR_SIGNATURE_INVALID' });
        const rsa = await s.generateKeyPair({ algorithm: 'RSA-2048', id: randomBytes(16), label: 'req-csr-rsa' });
        const csr = await createTokenCsr({ session: s, keyPair: rsa, name: [{ CN: [{ utf8String: 'Тест' }] }] });
        const { stdout, stderr } = await opensslReq(csr, 'req-rsa.der');
        expect(`${stdout}${stderr}`).toMatch(/verify OK/i);
      } finally {
        s.close();
      }
    });
  });

  describe('TokenSession.createCertificate, findObjects and destroyObject', () => {
    it('writes the certificate under the key ID, pkcs11-tool lists it there, and destroy removes exactly those objects', async () => {
      const s = session(withPin);
      try {
        s.login(USER_PIN);
        const id = randomBytes(16);
        const other = await s.generateKeyPair({ algorithm: 'EC-P256', id: randomBytes(16), label: 'bystander' });
        const pair = await s.generateKeyPair({ algorithm: 'EC-P256', id, label: 'req-cert' });
        const ca = await webcrypto.subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-256' }, true, ['sign', 'verify']);
        const subjectKey = await webcrypto.subtle.importKey('spki', s.readPublicKey(pair.publicKey).spki, { name: 'ECDSA', namedCurve: 'P-256' }, true, ['verify']);
        const cert = await X509CertificateGenerator.create({
          // A serial with its top bit set: CKA_SERIAL_NUMBER carries the DER sign byte, as the certificate does.
          serialNumber: '8a1b2c', subject: 'CN=Holder', issuer: 'CN=Test CA', notBefore: new Date(Date.now() - 60_000), notAfter: new Date(Date.now() + 86_400_000),
          publicKey: subjectKey, signingKey: ca.privateKey, signingAlgorithm: { name: 'ECDSA', hash: 'SHA-256' }, extensions: [new BasicConstraintsExtension(false)],
        }, webcrypto as unknown as Crypto);
        const handle = s.createCertificate({ id, label: 'req-cert', der: Buffer.from(cert.rawData) });
        expect(s.getAttributes(handle, ['CKA_CLASS', 'CKA_ID', 'CKA_VALUE', 'CKA_SERIAL_NUMBER', 'CKA_SUBJECT', 'CKA_ISSUER', 'CKA_TOKEN', 'CKA_PRIVATE'])).toEqual({
          CKA_CLASS: 1, CKA_ID: id, CKA_VALUE: Buffer.from(cert.rawData), CKA_SERIAL_NUMBER: Buffer.from('0204008a1b2c', 'hex'),
          CKA_SUBJECT: Buffer.from(cert.subjectName.toArrayBuffer()), CKA_ISSUER: Buffer.from(cert.issuerName.toArrayBuffer()), CKA_TOKEN: true, CKA_PRIVATE: false,
        });
        expect(() => s.createCertificate({ id, label: 'req-cert', der: Buffer.from(cert.rawData).subarray(0, 100) })).toThrow(expect.objectContaining({ ckr: 'CKR_ARGUMENTS_BAD' }));
        const { stdout } = await run('pkcs11-tool', ['--module', hsm.modulePath, '--token-label', 'with-pin', '--login', '--pin', USER_PIN, '-O'], { env: { ...process.env, ...hsm.env } });
        const blocks = stdout.split(/\n(?=\S)/).filter((b) => b.includes(`ID:         ${id.toString('hex')}`));
        expect(blocks.map((b) => b.split('\n')[0]!.replace(/\s*Object;\s*/, '').trim()).sort()).toEqual(['Certificate', 'Private Key', 'Public Key'].map((k) => expect.stringContaining(k)));
        expect(blocks.join('\n')).toContain('subject:    DN: CN=Holder');

        const mine = s.objectsWithId(id);
        expect(mine.map((o) => o.class).sort()).toEqual(['certificate', 'private-key', 'public-key']);
        for (const o of mine) s.destroyObject(o.handle);
        expect(s.findObjects({ id })).toEqual([]);
        expect(s.findObjects({ id: other.id })).toHaveLength(2);
      } finally {
        s.close();
      }
    });
  });

  describe('a token without RSA key generation', () => {
    it('reports only EC-P256 and refuses an RSA key with CKR_MECHANISM_INVALID', async () => {
      await appendFile(hsm.conf, 'slots.mechanisms = CKM_EC_KEY_PAIR_GEN,CKM_ECDSA,CKM_SHA256\n');
      module.reinitialize();
      const t = byLabel('with-pin');
      expect(t.algorithms).toEqual(['EC-P256']);
      const s = session(t);
      try {
        s.login(USER_PIN);
        const error = await s.generateKeyPair({ algorithm: 'RSA-2048', id: randomBytes(8), label: 'no' }).catch((e: unknown) => e);
        expect(error).toMatchObject({ ckr: 'CKR_MECHANISM_INVALID', fn: 'C_GenerateKeyPair', retryable: false });
      } finally {
        s.close();
      }
    });
  });
});
