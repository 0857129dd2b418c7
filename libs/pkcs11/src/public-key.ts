import { createPublicKey, type KeyObject } from 'node:crypto';
import { P256_SPKI_HEAD } from '@thk/pki';

/**
 * `CKA_EC_POINT` is specified as the DER OCTET STRING of the point, and most tokens (SoftHSM
 * included) return it wrapped: `04 41 04 x y`. Some return the bare point `04 x y`. For P-256 the
 * bare uncompressed point is 65 bytes, the wrapped one 67.
 */
export function unwrapEcPoint(value: Buffer): Buffer {
  if (value.length === 65 && value[0] === 0x04) return value;
  if (value.length === 67 && value[0] === 0x04 && value[1] === 0x41 && value[2] === 0x04) return value.subarray(2);
  throw new TypeError(`unexpected CKA_EC_POINT of ${value.length} bytes for P-256`);
}

const b64url = (b: Buffer) => b.toString('base64url');

export function p256PublicKey(ecPoint: Buffer): KeyObject {
  const point = unwrapEcPoint(ecPoint);
  return createPublicKey({ key: { kty: 'EC', crv: 'P-256', x: b64url(point.subarray(1, 33)), y: b64url(point.subarray(33, 65)) }, format: 'jwk' });
}

/** PKCS#11 big integers are unsigned big-endian; JWK wants them without leading zero bytes. */
function unsigned(b: Buffer): Buffer {
  let i = 0;
  while (i < b.length - 1 && b[i] === 0) i++;
  return b.subarray(i);
}

export function rsaPublicKey(modulus: Buffer, publicExponent: Buffer): KeyObject {
  return createPublicKey({ key: { kty: 'RSA', n: b64url(unsigned(modulus)), e: b64url(unsigned(publicExponent)) }, format: 'jwk' });
}

/**
 * The SubjectPublicKeyInfo of a P-256 point (`CKA_EC_POINT`, wrapped or bare), byte for byte what
 * `spkiDer(p256PublicKey(point))` gives, without OpenSSL's encoder (~0.12 ms a key) or its import.
 * The point is not checked here: whoever imports the key checks it (the CSR's own verification does).
 */
export function p256Spki(ecPoint: Buffer): Buffer {
  return Buffer.concat([P256_SPKI_HEAD, unwrapEcPoint(ecPoint)]);
}

export function spkiDer(key: KeyObject): Buffer {
  return key.export({ type: 'spki', format: 'der' });
}
