import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { AppError } from '@thk/core';

const VERSION = 1;

/**
 * Seals a private key (PKCS#8 DER) under the key-encryption key: AES-256-GCM, a fresh 96-bit IV,
 * the purpose and KEK id bound as associated data. Layout: version ‖ iv ‖ tag ‖ ciphertext.
 */
export function sealKey(plaintext: Buffer, kek: { id: string; key: Buffer }, purpose: string): Buffer {
  const iv = randomBytes(12);
  const cipher = createCipheriv('aes-256-gcm', kek.key, iv);
  cipher.setAAD(Buffer.from(`${purpose}|${kek.id}`));
  const ciphertext = Buffer.concat([cipher.update(plaintext), cipher.final()]);
  return Buffer.concat([Buffer.of(VERSION), iv, cipher.getAuthTag(), ciphertext]);
}

/** Opens what `sealKey` sealed; a wrong KEK or any tampering answers `ca.key-unsealing-failed`. */
export function openKey(sealed: Buffer, kek: { id: string; key: Buffer }, purpose: string): Buffer {
  if (sealed.length < 1 + 12 + 16 + 1 || sealed[0] !== VERSION) throw new AppError('ca.key-unsealing-failed', 'the sealed CA key has an unknown format');
  try {
    const decipher = createDecipheriv('aes-256-gcm', kek.key, sealed.subarray(1, 13));
    decipher.setAAD(Buffer.from(`${purpose}|${kek.id}`));
    decipher.setAuthTag(sealed.subarray(13, 29));
    return Buffer.concat([decipher.update(sealed.subarray(29)), decipher.final()]);
  } catch {
    throw new AppError('ca.key-unsealing-failed', 'the CA key cannot be unsealed with the configured key-encryption key');
  }
}
