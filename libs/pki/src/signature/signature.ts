import { constants, createPublicKey, verify, type KeyObject } from 'node:crypto';
import { asBuffer, readChildren, readOne, TAG } from '../der.js';
import { PkiError } from '../pki-error.js';

/** A public key as a KeyObject or its SubjectPublicKeyInfo DER. */
export type PublicKeyInput = KeyObject | Uint8Array;

export type EcdsaSignatureEncoding = 'der' | 'p1363';

/** Imports a SubjectPublicKeyInfo (DER); OpenSSL checks that an EC point lies on its curve. */
export function importPublicKey(spki: Uint8Array): KeyObject {
  try {
    return createPublicKey({ key: asBuffer(spki), format: 'der', type: 'spki' });
  } catch (error) {
    throw new PkiError('pki.unsupported', 'the public key cannot be imported', { cause: error });
  }
}

function toKey(input: PublicKeyInput): KeyObject {
  return input instanceof Uint8Array ? importPublicKey(input) : input;
}

export function isP256Key(key: KeyObject): boolean {
  return key.type === 'public' && key.asymmetricKeyType === 'ec' && key.asymmetricKeyDetails?.namedCurve === 'prime256v1';
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
