import 'reflect-metadata';
import { webcrypto, type KeyObject } from 'node:crypto';
import { Name, Pkcs10CertificateRequestGenerator } from '@peculiar/x509';
import type { KeyAlgorithm, PersonSubject } from '@thk/contracts';
import { decodeOid, expectTag, oid as oidOf, readChildren, readOne, seq, TAG, tlv, unsignedInteger, type Tlv } from '../der.js';
import type { Bytes } from '../der.js';
import { EXTRA_NAME_TYPES, OID } from '../oids.js';
import { PkiError } from '../pki-error.js';
import { importPublicKey, isP256Key, verifyX509Signature, verifyX509SignatureAsync } from '../signature/signature.js';
import { readSpki } from './certificate.js';
import { personSubjectToNameDer } from './name.js';

export interface ParsedCsr {
  der: Uint8Array;
  /** certificationRequestInfo exactly as signed. */
  info: Uint8Array;
  subject: Uint8Array;
  spki: Uint8Array;
  publicKeyBits: Uint8Array;
  keyAlgorithm: KeyAlgorithm;
  publicKey: KeyObject;
  signatureAlgorithm: string;
  signature: Uint8Array;
}

/** Which of the system's key algorithms a SubjectPublicKeyInfo holds; `pki.unsupported` otherwise. */
export function keyAlgorithmOfSpki(spki: Tlv, key: KeyObject): KeyAlgorithm {
  const { algorithm, parameters } = readSpki(spki);
  if (algorithm === OID.ecPublicKey) {
    const curve = parameters ? readOne(parameters, TAG.OID) : undefined;
    if (curve && decodeOid(curve.value) === OID.prime256v1 && isP256Key(key)) return 'EC-P256';
    throw new PkiError('pki.unsupported', 'only the P-256 curve is accepted');
  }
  if (algorithm === OID.rsaEncryption) {
    if (key.asymmetricKeyDetails?.modulusLength === 2_048) return 'RSA-2048';
    throw new PkiError('pki.unsupported', 'only 2048-bit RSA keys are accepted');
  }
  throw new PkiError('pki.unsupported', `public key algorithm ${algorithm} is not accepted`);
}

/**
 * Parses a PKCS#10 request strictly. Throws `der.malformed` for malformed or truncated input and
 * `pki.unsupported` for a key other than P-256 or RSA-2048. Does not check the signature: call
 * `verifyCsrSignature` (proof of possession).
 */
export function parseCsr(der: Uint8Array): ParsedCsr {
  const outer = readOne(der, TAG.SEQUENCE);
  const [infoT, algT, sigT, ...rest] = readChildren(outer);
  if (rest.length) throw new PkiError('der.malformed', 'CSR has extra parts');
  const info = expectTag(infoT, TAG.SEQUENCE, 'certificationRequestInfo');
  const alg = readChildren(expectTag(algT, TAG.SEQUENCE, 'signatureAlgorithm'));
  const signatureAlgorithm = decodeOid(expectTag(alg[0], TAG.OID, 'signatureAlgorithm OID').value);
  const sig = expectTag(sigT, TAG.BIT_STRING, 'signature');
  if (sig.value.length < 2 || sig.value[0] !== 0) throw new PkiError('der.malformed', 'signature must have no unused bits');
  const [versionT, subjectT, spkiT, attrsT, ...more] = readChildren(info);
  if (more.length) throw new PkiError('der.malformed', 'certificationRequestInfo has extra parts');
  const version = expectTag(versionT, TAG.INTEGER, 'version');
  if (version.value.length !== 1 || version.value[0] !== 0) throw new PkiError('der.malformed', 'CSR version must be 0');
  const subject = expectTag(subjectT, TAG.SEQUENCE, 'subject');
  const spki = expectTag(spkiT, TAG.SEQUENCE, 'subjectPKInfo');
  expectTag(attrsT, 0xa0, 'attributes');
  readChildren(attrsT!);
  const { publicKeyBits } = readSpki(spki);
  const publicKey = importPublicKey(spki.raw);
  const keyAlgorithm = keyAlgorithmOfSpki(spki, publicKey);
  return { der, info: info.raw, subject: subject.raw, spki: spki.raw, publicKeyBits, keyAlgorithm, publicKey, signatureAlgorithm, signature: sig.value.subarray(1) };
}

/** Proof of possession: the request is signed by the private key of the public key it carries. */
export function verifyCsrSignature(csr: ParsedCsr): boolean {
  const expected = csr.keyAlgorithm === 'EC-P256' ? OID.ecdsaWithSha256 : OID.sha256WithRsaEncryption;
  if (csr.signatureAlgorithm !== expected) return false;
  return verifyX509Signature(csr.publicKey, csr.signatureAlgorithm, csr.info, csr.signature);
}

/** `verifyCsrSignature` with the curve arithmetic on the thread pool. */
export async function verifyCsrSignatureAsync(csr: ParsedCsr): Promise<boolean> {
  const expected = csr.keyAlgorithm === 'EC-P256' ? OID.ecdsaWithSha256 : OID.sha256WithRsaEncryption;
  if (csr.signatureAlgorithm !== expected) return false;
  return verifyX509SignatureAsync(csr.publicKey, csr.signatureAlgorithm, csr.info, csr.signature);
}

/** Raw r‖s (WebCrypto, JWS ES256, PKCS#11 `CKM_ECDSA`) → DER `ECDSA-Sig-Value` (X.509, CSR). */
export function ecdsaP1363ToDer(raw: Uint8Array): Bytes {
  if (raw.length !== 64) throw new PkiError('pki.invalid', 'a P-256 signature is 64 bytes');
  return seq(unsignedInteger(raw.subarray(0, 32)), unsignedInteger(raw.subarray(32)));
}

/** DER `ECDSA-Sig-Value` → raw r‖s for P-256. */
export function ecdsaDerToP1363(der: Uint8Array): Bytes {
  const parts = readChildren(readOne(der, TAG.SEQUENCE));
  if (parts.length !== 2) throw new PkiError('der.malformed', 'ECDSA-Sig-Value has two integers');
  const out = new Uint8Array(64);
  parts.forEach((p, i) => {
    const v = expectTag(p, TAG.INTEGER, 'ECDSA integer').value;
    const m = v[0] === 0 ? v.subarray(1) : v;
    if (m.length > 32) throw new PkiError('der.malformed', 'ECDSA integer too long');
    out.set(m, i * 32 + 32 - m.length);
  });
  return out;
}

const SIGNING: Record<KeyAlgorithm, { name: string; hash: string }> = {
  'EC-P256': { name: 'ECDSA', hash: 'SHA-256' },
  'RSA-2048': { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256' },
};

/**
 * Creates a PKCS#10 request for a person's key (the accounts service certifies development cloud
 * keys with it). `keys` is a WebCrypto key pair (ECDSA P-256 or RSASSA-PKCS1-v1_5 2048); pass
 * another `crypto` provider to sign elsewhere (e.g. through PKCS#11). Returns DER.
 */
export async function createCsr(subject: PersonSubject, keys: CryptoKeyPair, crypto: Crypto = webcrypto as unknown as Crypto): Promise<Bytes> {
  const algorithm: KeyAlgorithm = keys.privateKey.algorithm.name === 'ECDSA' ? 'EC-P256' : 'RSA-2048';
  const csr = await Pkcs10CertificateRequestGenerator.create({
    name: new Name(Uint8Array.from(personSubjectToNameDer(subject)), EXTRA_NAME_TYPES),
    keys,
    signingAlgorithm: SIGNING[algorithm],
  }, crypto);
  return new Uint8Array(csr.rawData);
}

/**
 * Assembles a CSR from a subject Name (DER), a SubjectPublicKeyInfo and a signer that answers the
 * X.509 form of the signature (DER for ECDSA). For signers that are neither WebCrypto nor node keys.
 */
export async function buildCsr(params: { subject: Uint8Array; spki: Uint8Array; keyAlgorithm: KeyAlgorithm; sign(data: Uint8Array): Promise<Bytes> }): Promise<Bytes> {
  const info = seq(unsignedInteger(Uint8Array.of(0)), params.subject, params.spki, tlv(0xa0));
  const algId = params.keyAlgorithm === 'EC-P256' ? seq(oidOf(OID.ecdsaWithSha256)) : seq(oidOf(OID.sha256WithRsaEncryption), tlv(TAG.NULL));
  const signature = await params.sign(info);
  return seq(info, algId, tlv(TAG.BIT_STRING, Uint8Array.of(0), signature));
}
