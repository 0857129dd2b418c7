import { readFileSync } from 'node:fs';
import { createPrivateKey, ECDH, generateKeyPairSync, sign } from 'node:crypto';
import { importPrivateKey, importPublicKey, SIGNATURE_ALGORITHMS, verifyEcdsaP256Sha256, verifyRsaPkcs1Sha256, verifyX509SignatureAsync } from './signature.js';

/** Wycheproof vectors (C2SP/wycheproof, testvectors_v1) shipped in the shared data folder. */
const WYCHEPROOF_DIR = process.env['WYCHEPROOF_DIR'] ?? '/work/shared/data/wycheproof';

interface WycheproofTest { tcId: number; comment: string; msg: string; sig: string; result: 'valid' | 'invalid' | 'acceptable'; flags: string[] }
interface WycheproofGroup { publicKeyDer: string; sha: string; tests: WycheproofTest[] }

function load(file: string): { groups: WycheproofGroup[]; numberOfTests: number } {
  const json = JSON.parse(readFileSync(`${WYCHEPROOF_DIR}/${file}`, 'utf8')) as { testGroups: WycheproofGroup[]; numberOfTests: number };
  return { groups: json.testGroups, numberOfTests: json.numberOfTests };
}

type Outcome = { accepted: number[]; refused: number[]; crashed: Array<{ tcId: number; error: string }> };

function run(file: string, check: (key: ReturnType<typeof importPublicKey>, msg: Buffer, sig: Buffer) => boolean): Record<'valid' | 'invalid' | 'acceptable', Outcome> & { total: number; numberOfTests: number } {
  const { groups, numberOfTests } = load(file);
  const out = {
    valid: { accepted: [], refused: [], crashed: [] } as Outcome,
    invalid: { accepted: [], refused: [], crashed: [] } as Outcome,
    acceptable: { accepted: [], refused: [], crashed: [] } as Outcome,
    total: 0,
    numberOfTests,
  };
  for (const group of groups) {
    expect(group.sha).toBe('SHA-256');
    const key = importPublicKey(Buffer.from(group.publicKeyDer, 'hex'));
    for (const t of group.tests) {
      out.total++;
      try {
        const ok = check(key, Buffer.from(t.msg, 'hex'), Buffer.from(t.sig, 'hex'));
        (ok ? out[t.result].accepted : out[t.result].refused).push(t.tcId);
      } catch (error) {
        out[t.result].crashed.push({ tcId: t.tcId, error: (error as Error).message });
      }
    }
  }
  return out;
}

describe('signature verification', () => {
  describe('verifyEcdsaP256Sha256 (DER) against Wycheproof ecdsa_secp256r1_sha256_test', () => {
    const r = run('ecdsa_secp256r1_sha256_test.json', (k, m, s) => verifyEcdsaP256Sha256(k, m, s, 'der'));
    it('runs every vector of the file', () => { expect(r.total).toBe(r.numberOfTests); });
    it('accepts every valid signature', () => { expect(r.valid.refused).toEqual([]); expect(r.valid.crashed).toEqual([]); expect(r.valid.accepted.length).toBeGreaterThan(100); });
    it('refuses every invalid signature without throwing', () => { expect(r.invalid.accepted).toEqual([]); expect(r.invalid.crashed).toEqual([]); expect(r.invalid.refused.length).toBeGreaterThan(100); });
    it('never throws on acceptable vectors', () => { expect(r.acceptable.crashed).toEqual([]); });
  });

  describe('verifyEcdsaP256Sha256 (raw r‖s) against Wycheproof ecdsa_secp256r1_sha256_p1363_test', () => {
    const r = run('ecdsa_secp256r1_sha256_p1363_test.json', (k, m, s) => verifyEcdsaP256Sha256(k, m, s, 'p1363'));
    it('runs every vector of the file', () => { expect(r.total).toBe(r.numberOfTests); });
    it('accepts every valid signature', () => { expect(r.valid.refused).toEqual([]); expect(r.valid.crashed).toEqual([]); expect(r.valid.accepted.length).toBeGreaterThan(100); });
    it('refuses every invalid signature without throwing', () => { expect(r.invalid.accepted).toEqual([]); expect(r.invalid.crashed).toEqual([]); expect(r.invalid.refused.length).toBeGreaterThan(50); });
    it('never throws on acceptable vectors', () => { expect(r.acceptable.crashed).toEqual([]); });
  });

  describe('verifyRsaPkcs1Sha256 against Wycheproof rsa_signature_2048_sha256_test', () => {
    const r = run('rsa_signature_2048_sha256_test.json', (k, m, s) => verifyRsaPkcs1Sha256(k, m, s));
    it('runs every vector of the file', () => { expect(r.total).toBe(r.numberOfTests); });
    it('accepts every valid signature', () => { expect(r.valid.refused).toEqual([]); expect(r.valid.crashed).toEqual([]); expect(r.valid.accepted.length).toBeGreaterThan(5); });
    it('refuses every invalid signature without throwing', () => { expect(r.invalid.accepted).toEqual([]); expect(r.invalid.crashed).toEqual([]); expect(r.invalid.refused.length).toBeGreaterThan(200); });
    it('never throws on acceptable vectors', () => { expect(r.acceptable.crashed).toEqual([]); });
  });

  describe('verifyX509SignatureAsync (thread pool) against the same DER and RSA vectors', () => {
    async function runAsync(file: string, oid: string): Promise<{ validRefused: number[]; invalidAccepted: number[]; total: number }> {
      const { groups } = load(file);
      const out = { validRefused: [] as number[], invalidAccepted: [] as number[], total: 0 };
      for (const group of groups) {
        const key = importPublicKey(Buffer.from(group.publicKeyDer, 'hex'));
        await Promise.all(group.tests.map(async (t) => {
          out.total++;
          const ok = await verifyX509SignatureAsync(key, oid, Buffer.from(t.msg, 'hex'), Buffer.from(t.sig, 'hex'));
          if (t.result === 'valid' && !ok) out.validRefused.push(t.tcId);
          if (t.result === 'invalid' && ok) out.invalidAccepted.push(t.tcId);
        }));
      }
      return out;
    }
    it('accepts every valid and refuses every invalid ECDSA P-256 DER signature', async () => {
      const r = await runAsync('ecdsa_secp256r1_sha256_test.json', SIGNATURE_ALGORITHMS.ecdsaWithSha256);
      expect(r).toEqual({ validRefused: [], invalidAccepted: [], total: load('ecdsa_secp256r1_sha256_test.json').numberOfTests });
    });
    it('accepts every valid and refuses every invalid RSA-2048 PKCS#1 v1.5 signature', async () => {
      const r = await runAsync('rsa_signature_2048_sha256_test.json', SIGNATURE_ALGORITHMS.sha256WithRsaEncryption);
      expect(r).toEqual({ validRefused: [], invalidAccepted: [], total: load('rsa_signature_2048_sha256_test.json').numberOfTests });
    });
  });

  describe('key checks', () => {
    it('refuses a P-256 point that is not on the curve', () => {
      const { publicKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
      const spki = publicKey.export({ format: 'der', type: 'spki' });
      spki[spki.length - 1]! ^= 1;
      expect(() => importPublicKey(spki)).toThrow(/cannot be imported/);
    });
    it('imports a compressed P-256 point through the DER path', () => {
      const { publicKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
      const raw = publicKey.export({ format: 'der', type: 'spki' }).subarray(26);
      const point = ECDH.convertKey(raw, 'prime256v1', undefined, undefined, 'compressed') as Buffer;
      const key = importPublicKey(Buffer.concat([Buffer.from('3039301306072a8648ce3d020106082a8648ce3d030107032200', 'hex'), point]));
      expect(key.asymmetricKeyDetails?.namedCurve).toBe('prime256v1');
    });
    it('throws when an ECDSA check gets an RSA key', () => {
      const { publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
      expect(() => verifyEcdsaP256Sha256(publicKey, Buffer.from('x'), Buffer.alloc(64), 'p1363')).toThrow(/P-256/);
    });
    it('throws when an RSA check gets a key shorter than 2048 bits', () => {
      const { publicKey } = generateKeyPairSync('rsa', { modulusLength: 1024 });
      expect(() => verifyRsaPkcs1Sha256(publicKey, Buffer.from('x'), Buffer.alloc(128))).toThrow(/2048/);
    });
    it('refuses a P-384 key for P-256 verification', () => {
      const { publicKey, privateKey } = generateKeyPairSync('ec', { namedCurve: 'secp384r1' });
      const sig = sign('sha256', Buffer.from('x'), privateKey);
      expect(() => verifyEcdsaP256Sha256(publicKey, Buffer.from('x'), sig, 'der')).toThrow(/P-256/);
    });
    it('refuses malformed SubjectPublicKeyInfo bytes', () => {
      expect(() => importPublicKey(Buffer.from('3059301306072a8648ce3d020106082a8648ce3d03010703420004', 'hex'))).toThrow(/cannot be imported/);
    });
  });
});

describe('importPrivateKey', () => {
  it('imports P-256 keys in OpenSSL\'s PKCS#8 layout as the DER decoder does: the same scalar and point, signatures that verify', () => {
    for (let i = 0; i < 20; i++) {
      const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
      const pkcs8 = privateKey.export({ format: 'der', type: 'pkcs8' });
      const imported = importPrivateKey(pkcs8);
      expect(imported.export({ format: 'jwk' })).toEqual(createPrivateKey({ key: pkcs8, format: 'der', type: 'pkcs8' }).export({ format: 'jwk' }));
      expect(imported.export({ format: 'der', type: 'pkcs8' })).toEqual(pkcs8);
      const data = Buffer.from(`message ${i}`);
      expect(verifyEcdsaP256Sha256(publicKey, data, sign('sha256', data, { key: imported, dsaEncoding: 'ieee-p1363' }), 'p1363')).toBe(true);
    }
  });

  it('imports other keys and layouts through the DER decoder, and refuses what is not a key', () => {
    const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey;
    expect(importPrivateKey(rsa.export({ format: 'der', type: 'pkcs8' })).asymmetricKeyType).toBe('rsa');
    const p384 = generateKeyPairSync('ec', { namedCurve: 'P-384' }).privateKey;
    expect(importPrivateKey(p384.export({ format: 'der', type: 'pkcs8' })).asymmetricKeyDetails?.namedCurve).toBe('secp384r1');
    expect(() => importPrivateKey(Buffer.from('3003020100', 'hex'))).toThrow();
  });
});
