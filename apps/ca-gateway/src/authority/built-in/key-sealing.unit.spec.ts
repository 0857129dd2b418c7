import { randomBytes } from 'node:crypto';
import { openKey, sealKey } from './key-sealing.js';

const kek = { id: 'kek-1', key: randomBytes(32) };

describe('key sealing', () => {
  describe('sealKey / openKey', () => {
    it('opens what it sealed', () => {
      const secret = randomBytes(100);
      expect(openKey(sealKey(secret, kek, 'ca'), kek, 'ca').equals(secret)).toBe(true);
    });
    it('never writes the plaintext', () => {
      const secret = randomBytes(64);
      expect(sealKey(secret, kek, 'ca').includes(secret.subarray(0, 16))).toBe(false);
    });
    it('refuses another KEK, another KEK id, another purpose, and tampering', () => {
      const sealed = sealKey(randomBytes(64), kek, 'ca');
      expect(() => openKey(sealed, { id: 'kek-1', key: randomBytes(32) }, 'ca')).toThrow(/cannot be unsealed/);
      expect(() => openKey(sealed, { id: 'kek-2', key: kek.key }, 'ca')).toThrow(/cannot be unsealed/);
      expect(() => openKey(sealed, kek, 'other')).toThrow(/cannot be unsealed/);
      const tampered = Buffer.from(sealed);
      tampered[tampered.length - 1]! ^= 1;
      expect(() => openKey(tampered, kek, 'ca')).toThrow(/cannot be unsealed/);
      expect(() => openKey(sealed.subarray(0, 20), kek, 'ca')).toThrow(/unknown format/);
    });
  });
});
