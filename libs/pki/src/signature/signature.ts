import { constants, createPrivateKey, createPublicKey, verify, type KeyObject } from 'node:crypto';
import { promisify } from 'node:util';
import { asBuffer, readChildren, readOne, TAG } from '../der.js';
import { PkiError } from '../pki-error.js';

/** A public key as a KeyObject or its SubjectPublicKeyInfo DER. */
export type PublicKeyInput = KeyObject | Uint8Array;

export type EcdsaSignatureEncoding = 'der' | 'p1363';

/** The fixed 26-byte head of every P-256 SubjectPublicKeyInfo with an uncompressed point (`04 x y` follows). */
export const P256_SPKI_HEAD = Buffer.from('3059301306072a8648ce3d020106082a8648ce3d030107034200', 'hex');
/** Keys this module built as P-256 (answers `isP256Key` without asking OpenSSL again). */
const knownP256 = new WeakSet<KeyObject>();

/**
 * Imports a SubjectPublicKeyInfo (DER). A P-256 key with an uncompressed point goes through its
 * coordinates (JWK), which OpenSSL 3.0 imports ~3× faster than DER through its decoders; both
 * paths check that the point lies on the curve.
 */
export function importPublicKey(spki: Uint8Array): KeyObject {
  const der = asBuffer(spki);
  try {
    if (der.length === 91 && der.subarray(0, 26).equals(P256_SPKI_HEAD) && der[26] === 0x04) {
      const key = createPublicKey({ key: { kty: 'EC', crv: 'P-256', x: der.subarray(27, 59).toString('base64url'), y: der.subarray(59, 91).toString('base64url') }, format: 'jwk' });
      knownP256.add(key);
      return key;
    }
    return createPublicKey({ key: der, format: 'der', type: 'spki' });
  } catch (error) {
    throw new PkiError('pki.unsupported', 'the public key cannot be imported', { cause: error });
  }
}

/**
 * A P-256 PKCS#8 key as OpenSSL writes it: the 36 bytes before the 32-byte scalar (an RFC 5915
 * ECPrivateKey without parameters, the curve being in the AlgorithmIdentifier), and the 6 between the
 * scalar and the public point's 64 bytes (`[1]`, BIT STRING, uncompressed).
 */
const P256_PKCS8_HEAD = Buffer.from('308187020100301306072a8648ce3d020106082a8648ce3d030107046d306b0201010420', 'hex');
const P256_PKCS8_POINT = Buffer.from('a14403420004', 'hex');

/**
 * Imports a PKCS#8 private key (DER). A P-256 key in OpenSSL's layout goes through its scalar and
 * point (JWK), which OpenSSL 3.0 imports ~5× faster than DER through its decoders (80 against 400 µs
 * here, on the depository's path after every KDF); any other key or layout goes through DER.
 */
export function importPrivateKey(pkcs8: Uint8Array): KeyObject {
  const der = asBuffer(pkcs8);
  if (der.length === 138 && der.subarray(0, 36).equals(P256_PKCS8_HEAD) && der.subarray(68, 74).equals(P256_PKCS8_POINT)) {
    const part = (from: number) => der.subarray(from, from + 32).toString('base64url');
    return createPrivateKey({ key: { kty: 'EC', crv: 'P-256', d: part(36), x: part(74), y: part(106) }, format: 'jwk' });
  }
  return createPrivateKey({ key: der, format: 'der', type: 'pkcs8' });
}

function toKey(input: PublicKeyInput): KeyObject {
  return input instanceof Uint8Array ? importPublicKey(input) : input;
}

export function isP256Key(key: KeyObject): boolean {
  if (knownP256.has(key)) return true;
  const ok = key.type === 'public' && key.asymmetricKeyType === 'ec' && key.asymmetricKeyDetails?.namedCurve === 'prime256v1';
  if (ok) knownP256.add(key);
  return ok;
}

export function isRsaKey(key: KeyObject, minBits = 2_048): boolean {
  return key.type === 'public' && key.asymmetricKeyType === 'rsa' && (key.asymmetricKeyDetails?.modulusLength ?? 0) >= minBits;
}

/**
 * Is `signature` a strict DER `ECDSA-Sig-Value` with two positive, minimally encoded integers of at
 * most 32 bytes of magnitude? OpenSSL re-encodes and compares as well; checking here too keeps the
 * rule visible and independent of the OpenSSL version.
 */
function isStrictDerEcdsaSignature(signature: Uint8Array): boolean {
  try {
    const outer = readOne(signature, TAG.SEQUENCE);
    const parts = readChildren(outer);
    if (parts.length !== 2) return false;
    for (const p of parts) {
      if (p.tag !== TAG.INTEGER || p.value.length === 0 || p.value.length > 33) return false;
      const v = p.value;
      if (v[0]! & 0x80) return false; // negative
      if (v.length > 1 && v[0] === 0 && (v[1]! & 0x80) === 0) return false; // non-minimal
      if (v.length === 33 && v[0] !== 0) return false;
    }
    return true;
  } catch {
    return false;
  }
}

/**
 * Verifies an ECDSA P-256 / SHA-256 signature, DER (X.509, CSR) or raw r‖s (JWS ES256, PKCS#11).
 * Answers false for any malformed signature; throws only when the key is not a P-256 public key.
 */
export function verifyEcdsaP256Sha256(publicKey: PublicKeyInput, data: Uint8Array, signature: Uint8Array, encoding: EcdsaSignatureEncoding): boolean {
  const key = toKey(publicKey);
  if (!isP256Key(key)) throw new PkiError('pki.unsupported', 'an ECDSA P-256 public key is required');
  if (encoding === 'p1363' ? signature.length !== 64 : !isStrictDerEcdsaSignature(signature)) return false;
  try {
    return verify('sha256', asBuffer(data), { key, dsaEncoding: encoding === 'der' ? 'der' : 'ieee-p1363' }, asBuffer(signature));
  } catch {
    return false;
  }
}

/**
 * Verifies an RSASSA-PKCS1-v1_5 / SHA-256 signature by a key of at least 2048 bits. OpenSSL
 * rebuilds the expected `DigestInfo` and compares it in full, so malleable encodings are refused.
 */
export function verifyRsaPkcs1Sha256(publicKey: PublicKeyInput, data: Uint8Array, signature: Uint8Array): boolean {
  const key = toKey(publicKey);
  if (!isRsaKey(key)) throw new PkiError('pki.unsupported', 'an RSA public key of at least 2048 bits is required');
  const modulusBytes = Math.ceil((key.asymmetricKeyDetails!.modulusLength ?? 0) / 8);
  if (signature.length !== modulusBytes) return false;
  try {
    return verify('sha256', asBuffer(data), { key, padding: constants.RSA_PKCS1_PADDING }, asBuffer(signature));
  } catch {
    return false;
  }
}

const verifyInPool = promisify(verify) as (algorithm: string, data: Uint8Array, key: Parameters<typeof verify>[2], signature: Uint8Array) => Promise<boolean>;

/**
 * `verifyX509Signature` on libuv's thread pool: the same checks, the curve arithmetic off the
 * event loop (a busy service verifies on another core while its loop serves messages).
 */
export async function verifyX509SignatureAsync(publicKey: PublicKeyInput, algorithmOid: string, signed: Uint8Array, signature: Uint8Array): Promise<boolean> {
  const key = toKey(publicKey);
  try {
    switch (algorithmOid) {
      case SIGNATURE_ALGORITHMS.ecdsaWithSha256:
        if (!isP256Key(key) || !isStrictDerEcdsaSignature(signature)) return false;
        return await verifyInPool('sha256', asBuffer(signed), { key, dsaEncoding: 'der' }, asBuffer(signature));
      case SIGNATURE_ALGORITHMS.sha256WithRsaEncryption:
        if (!isRsaKey(key) || signature.length !== Math.ceil((key.asymmetricKeyDetails!.modulusLength ?? 0) / 8)) return false;
        return await verifyInPool('sha256', asBuffer(signed), { key, padding: constants.RSA_PKCS1_PADDING }, asBuffer(signature));
      default:
        return false;
    }
  } catch {
    return false;
  }
}

export const SIGNATURE_ALGORITHMS = {
  ecdsaWithSha256: '1.2.840.10045.4.3.2',
  sha256WithRsaEncryption: '1.2.840.113549.1.1.11',
} as const;

/**
 * Verifies a signature of an X.509 structure (certificate, CSR, CRL) given its AlgorithmIdentifier
 * OID and whether parameters were present. Only ecdsa-with-SHA256 (no parameters) and
 * sha256WithRSAEncryption (NULL parameters) are accepted.
 */
export function verifyX509Signature(publicKey: PublicKeyInput, algorithmOid: string, signed: Uint8Array, signature: Uint8Array): boolean {
  const key = toKey(publicKey);
  switch (algorithmOid) {
    case SIGNATURE_ALGORITHMS.ecdsaWithSha256:
      return isP256Key(key) && verifyEcdsaP256Sha256(key, signed, signature, 'der');
    case SIGNATURE_ALGORITHMS.sha256WithRsaEncryption:
      return isRsaKey(key) && verifyRsaPkcs1Sha256(key, signed, signature);
    default:
      return false;
  }
}
