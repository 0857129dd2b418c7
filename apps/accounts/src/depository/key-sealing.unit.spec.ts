import { generateKeyPairSync, randomBytes } from 'node:crypto';
import {
  WrongPasswordError, deriveKey, newKdf, openWithDerivedKey, passwordBytes, scryptMaxmem, sealWithDerivedKey, unwrapKek,
} from './key-sealing.js';

const KDF = { log2N: 10, r: 8, p: 1 };
const kek = { id: 'kek-a', key: randomBytes(32) };
const keks = new Map([[kek.id, kek.key]]);
const privateKeyDer = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ format: 'der', type: 'pkcs8' });

async function sealed(password: string, keyId = 'key-1') {
  const kdf = newKdf(KDF);
  return sealWithDerivedKey(keyId, privateKeyDer, await deriveKey(passwordBytes(password), kdf), kdf, kek);
}

async function open(record: Awaited<ReturnType<typeof sealed>>, password: string, keyId = 'key-1') {
  const inner = unwrapKek(keyId, record, keks);
  return openWithDerivedKey(keyId, inner, await deriveKey(passwordBytes(password), record.kdf), record.kdf);
}

describe('key-sealing', () => {
  describe('seal and open', () => {
    it('opens with the right password', async () => {
      await expect(open(await sealed('Demo-Cloud-Key-1'), 'Demo-Cloud-Key-1')).resolves.toEqual(privateKeyDer);
    });

    it('refuses a wrong password as WrongPasswordError', async () => {
      await expect(open(await sealed('Demo-Cloud-Key-1'), 'Demo-Cloud-Key-2')).rejects.toBeInstanceOf(WrongPasswordError);
    });

    it('treats differently composed Unicode of the same password alike', async () => {
      await expect(open(await sealed('Пароль-й'), 'Пароль-и\u0306')).resolves.toEqual(privateKeyDer);
    });

    it('keeps neither the password nor the private key readable in what it stores', async () => {
      const record = await sealed('Demo-Cloud-Key-1');
      expect(record.sealed.includes(Buffer.from('Demo-Cloud-Key-1'))).toBe(false);
      expect(record.sealed.includes(privateKeyDer.subarray(-32))).toBe(false);
      expect(JSON.stringify(record.kdf)).not.toContain('Demo');
    });

    it('tells a tampered record (any byte) from a wrong password: integrity error', async () => {
      const record = await sealed('Demo-Cloud-Key-1');
      for (const at of [0, 1, 20, record.sealed.length - 1]) {
        const tampered = Buffer.from(record.sealed);
        tampered[at]! ^= 0x01;
        expect(() => unwrapKek('key-1', { ...record, sealed: tampered }, keks)).toThrow(expect.objectContaining({ code: 'depository.integrity' }));
      }
    });

    it('refuses a record moved to another key id, or with its KDF parameters lowered', async () => {
      const record = await sealed('Demo-Cloud-Key-1');
      expect(() => unwrapKek('key-2', record, keks)).toThrow(expect.objectContaining({ code: 'depository.integrity' }));
      expect(() => unwrapKek('key-1', { ...record, kdf: { ...record.kdf, log2N: 4 } }, keks)).toThrow(expect.objectContaining({ code: 'depository.integrity' }));
    });

    it('needs the KEK that sealed the record', async () => {
      const record = await sealed('Demo-Cloud-Key-1');
      expect(() => unwrapKek('key-1', record, new Map([['kek-b', randomBytes(32)]]))).toThrow(expect.objectContaining({ code: 'depository.unknown-kek' }));
      expect(() => unwrapKek('key-1', record, new Map([['kek-a', randomBytes(32)]]))).toThrow(expect.objectContaining({ code: 'depository.integrity' }));
    });
  });

  describe('scryptMaxmem', () => {
    it('allows the production parameters, which Node refuses with its default limit', async () => {
      expect(scryptMaxmem(17, 8)).toBe(256 * 1024 * 1024);
      expect(scryptMaxmem(17, 8)).toBeGreaterThan(32 * 1024 * 1024);
    });
  });
});
