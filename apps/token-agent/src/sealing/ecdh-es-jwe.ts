import { createDecipheriv, createHash, createPublicKey, diffieHellman, type KeyObject } from 'node:crypto';

/**
 * Opens a compact JWE of exactly one kind, `alg: ECDH-ES` (direct key agreement) with `enc: A256GCM`
 * on P-256 (RFC 7518 §4.6, §5.3), synchronously with node:crypto.
 *
 * Why not jose's `compactDecrypt`: in Node its only implementation is WebCrypto, where importing the
 * ephemeral key, the agreement, the Concat KDF's digest and the decryption are each an asynchronous
 * thread-pool job. A PIN costs ~0.3 ms of CPU either way, but that chain of hops took 2–10 ms of wall
 * time on the agent's critical path while the rest of the system was busy (measured in the formation
 * benchmark's trace). jose still seals (the cabinet, the tests) and the tests check every JWE jose
 * makes opens here and the RFC's key-agreement example.
 *
 * Throws `TypeError` for anything else (another alg or enc, an encrypted key, `zip`, `crit`, a
 * malformed part) and for a JWE that fails authentication; the caller words the refusal.
 */
export function openEcdhEsA256Gcm(jwe: string, privateKey: KeyObject): Buffer {
  const parts = jwe.split('.');
  if (parts.length !== 5) throw new TypeError('not a compact JWE');
  const [encodedHeader, encryptedKey, iv, ciphertext, tag] = parts as [string, string, string, string, string];
  const header = parseHeader(encodedHeader);
  if (encryptedKey !== '') throw new TypeError('ECDH-ES carries no encrypted key');
  const epk = createPublicKey({ key: { kty: 'EC', crv: 'P-256', x: header.epk.x, y: header.epk.y }, format: 'jwk' });
  const z = diffieHellman({ privateKey, publicKey: epk });
  const cek = concatKdf(z, 256, 'A256GCM', b64url(header.apu ?? ''), b64url(header.apv ?? ''));
  z.fill(0);
  try {
    const nonce = b64url(iv);
    const authTag = b64url(tag);
    if (nonce.length !== 12 || authTag.length !== 16) throw new TypeError('A256GCM needs a 96-bit IV and a 128-bit tag');
    const decipher = createDecipheriv('aes-256-gcm', cek, nonce, { authTagLength: 16 });
    decipher.setAAD(Buffer.from(encodedHeader, 'ascii'));
    decipher.setAuthTag(authTag);
    return Buffer.concat([decipher.update(b64url(ciphertext)), decipher.final()]);
  } finally {
    cek.fill(0);
  }
}

interface Header { epk: { x: string; y: string }; apu?: string; apv?: string }

function parseHeader(encoded: string): Header {
  let h: Record<string, unknown>;
  try {
    h = JSON.parse(b64url(encoded).toString('utf8')) as Record<string, unknown>;
  } catch {
    throw new TypeError('the JWE header is not JSON');
  }
  if (h === null || typeof h !== 'object' || Array.isArray(h)) throw new TypeError('the JWE header is not an object');
  if (h['alg'] !== 'ECDH-ES' || h['enc'] !== 'A256GCM') throw new TypeError('only ECDH-ES with A256GCM is accepted');
  if ('zip' in h || 'crit' in h) throw new TypeError('zip and crit are not accepted');
  const epk = h['epk'] as Record<string, unknown> | undefined;
  if (!epk || epk['kty'] !== 'EC' || epk['crv'] !== 'P-256' || typeof epk['x'] !== 'string' || typeof epk['y'] !== 'string') throw new TypeError('the JWE needs a P-256 epk');
  for (const name of ['apu', 'apv'] as const) if (h[name] !== undefined && typeof h[name] !== 'string') throw new TypeError(`${name} must be a string`);
  return { epk: { x: epk['x'], y: epk['y'] }, ...(typeof h['apu'] === 'string' ? { apu: h['apu'] } : {}), ...(typeof h['apv'] === 'string' ? { apv: h['apv'] } : {}) };
}

/** The Concat KDF of RFC 7518 §4.6.2 (NIST SP 800-56A, SHA-256), for direct agreement: AlgorithmID is `enc`. */
export function concatKdf(z: Buffer, keyBits: number, algorithmId: string, apu: Buffer, apv: Buffer): Buffer {
  const lengthPrefixed = (b: Buffer) => Buffer.concat([uint32(b.length), b]);
  const otherInfo = Buffer.concat([lengthPrefixed(Buffer.from(algorithmId, 'ascii')), lengthPrefixed(apu), lengthPrefixed(apv), uint32(keyBits)]);
  const blocks: Buffer[] = [];
  for (let counter = 1; blocks.length * 256 < keyBits; counter++) blocks.push(createHash('sha256').update(uint32(counter)).update(z).update(otherInfo).digest());
  return Buffer.concat(blocks).subarray(0, keyBits / 8);
}

function uint32(n: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n);
  return b;
}

function b64url(s: string): Buffer {
  if (!/^[A-Za-z0-9_-]*$/.test(s)) throw new TypeError('not base64url');
  return Buffer.from(s, 'base64url');
}
