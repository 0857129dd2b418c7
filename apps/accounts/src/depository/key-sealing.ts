import { createCipheriv, createDecipheriv, randomBytes, scrypt, type ScryptOptions } from 'node:crypto';
import { AppError } from '@thk/core';
import type { KdfSettings } from '../config/accounts.config.js';
import type { StoredKdf } from '../persistence/index.js';

/**
 * The depository's envelope for a cloud private key (PKCS#8 DER):
 *
 *   inner  = AES-256-GCM(key = scrypt(password, salt, N, r, p), aad = key id + KDF parameters)
 *   sealed = 0x01 ‖ AES-256-GCM(key = server KEK, aad = key id + KEK id + KDF parameters)(inner)
 *
 * The outer layer authenticates everything stored, so a tampered record is told apart from a wrong
 * password (and never costs the user an attempt); the inner layer is what the password opens: a
 * wrong one fails GCM's tag check, which OpenSSL compares in constant time.
 */
const FORMAT_V1 = 0x01;
const IV_BYTES = 12;
const TAG_BYTES = 16;

export interface Kek { id: string; key: Buffer }
export interface SealedKey { kdf: StoredKdf; kekId: string; sealed: Buffer }

/** The password was wrong (inner tag check failed). */
export class WrongPasswordError extends Error {
  constructor() { super('wrong password'); this.name = 'WrongPasswordError'; }
}

export function integrityError(keyId: string, cause?: unknown): AppError {
  return new AppError('depository.integrity', `the sealed key of ${keyId} fails its integrity check`, { retryable: false, meta: { keyId }, cause });
}

/** The bytes scrypt may use: 128·N·r, doubled for headroom (Node's default cap of 32 MiB is below N = 2^17, r = 8). */
export function scryptMaxmem(log2N: number, r: number): number {
  return 128 * 2 ** log2N * r * 2;
}

/** Runs scrypt on the libuv pool. The password buffer is the caller's to wipe. */
export function deriveKey(password: Buffer, kdf: StoredKdf): Promise<Buffer> {
  const options: ScryptOptions = { N: 2 ** kdf.log2N, r: kdf.r, p: kdf.p, maxmem: scryptMaxmem(kdf.log2N, kdf.r) };
  return new Promise((resolve, reject) => {
    scrypt(password, Buffer.from(kdf.salt, 'base64'), 32, options, (error, key) => (error ? reject(error) : resolve(key)));
  });
}

/** Passwords are compared as NFC-normalised UTF-8, so the same characters typed differently still match. */
export function passwordBytes(password: string): Buffer {
  return Buffer.from(password.normalize('NFC'), 'utf8');
}

function aad(parts: string[]): Buffer {
  return Buffer.from(parts.join('\u0000'), 'utf8');
}

function kdfLabel(kdf: StoredKdf): string {
  return `${kdf.alg}:${kdf.log2N}:${kdf.r}:${kdf.p}:${kdf.salt}`;
}

function gcmSeal(key: Buffer, plaintext: Buffer, associated: Buffer): Buffer {
  const iv = randomBytes(IV_BYTES);
  const cipher = createCipheriv('aes-256-gcm', key, iv);
  cipher.setAAD(associated);
  const body = Buffer.concat([cipher.update(plaintext), cipher.final()]);
  return Buffer.concat([iv, body, cipher.getAuthTag()]);
}

/** Returns null when the tag does not verify. */
function gcmOpen(key: Buffer, sealed: Buffer, associated: Buffer): Buffer | null {
  if (sealed.length < IV_BYTES + TAG_BYTES) return null;
  const iv = sealed.subarray(0, IV_BYTES);
  const tag = sealed.subarray(sealed.length - TAG_BYTES);
  const decipher = createDecipheriv('aes-256-gcm', key, iv);
  decipher.setAAD(associated);
  decipher.setAuthTag(tag);
  try {
    return Buffer.concat([decipher.update(sealed.subarray(IV_BYTES, sealed.length - TAG_BYTES)), decipher.final()]);
  } catch {
    return null;
  }
}

export function newKdf(settings: KdfSettings): StoredKdf {
  return { alg: 'scrypt', log2N: settings.log2N, r: settings.r, p: settings.p, salt: randomBytes(16).toString('base64') };
}

/** Seals a private key under a password-derived key that the caller derived (through the KDF pool). */
export function sealWithDerivedKey(keyId: string, privateKeyDer: Buffer, derived: Buffer, kdf: StoredKdf, kek: Kek): SealedKey {
  const inner = gcmSeal(derived, privateKeyDer, aad(['thk-depository/v1/inner', keyId, kdfLabel(kdf)]));
  const outer = gcmSeal(kek.key, inner, aad(['thk-depository/v1/outer', keyId, kek.id, kdfLabel(kdf)]));
  return { kdf, kekId: kek.id, sealed: Buffer.concat([Buffer.of(FORMAT_V1), outer]) };
}

/** Removes the KEK layer; a failure here is tampering (or a wrong KEK), never the user's fault. */
export function unwrapKek(keyId: string, record: SealedKey, keks: ReadonlyMap<string, Buffer>): Buffer {
  const kek = keks.get(record.kekId);
  if (!kek) throw new AppError('depository.unknown-kek', `the key-encryption key ${record.kekId} is not configured`, { meta: { keyId, kekId: record.kekId } });
  if (record.sealed[0] !== FORMAT_V1) throw integrityError(keyId);
  const inner = gcmOpen(kek, record.sealed.subarray(1), aad(['thk-depository/v1/outer', keyId, record.kekId, kdfLabel(record.kdf)]));
  if (!inner) throw integrityError(keyId);
  return inner;
}

/** Opens the password layer with a derived key; throws WrongPasswordError when the tag does not verify. */
export function openWithDerivedKey(keyId: string, inner: Buffer, derived: Buffer, kdf: StoredKdf): Buffer {
  const plain = gcmOpen(derived, inner, aad(['thk-depository/v1/inner', keyId, kdfLabel(kdf)]));
  if (!plain) throw new WrongPasswordError();
  return plain;
}
