import { createHash, type KeyObject } from 'node:crypto';
import type { CertificateSummary } from '@thk/contracts';
import { bytesEqual, decodeOid, expectTag, readChildren, readOne, readX509Time, TAG, toHex, type Tlv } from '../der.js';
import type { Bytes } from '../der.js';
import { PkiError } from '../pki-error.js';
import { importPublicKey, verifyX509Signature } from '../signature/signature.js';
import { nameToString } from './name.js';

export interface ParsedCertificate {
  der: Uint8Array;
  /** The signed part, exactly as in the input. */
  tbs: Uint8Array;
  signatureAlgorithm: string;
  signature: Uint8Array;
  version: number;
  /** Lower-case hex of the serial's magnitude, without leading zero bytes. */
  serialNumber: string;
  issuer: Uint8Array;
  subject: Uint8Array;
  notBefore: Date;
  notAfter: Date;
  /** SubjectPublicKeyInfo DER. */
  spki: Uint8Array;
  /** The subjectPublicKey BIT STRING's bytes (without the unused-bits octet). */
  publicKeyBits: Uint8Array;
  extensions: ReadonlyArray<{ oid: string; critical: boolean; value: Uint8Array }>;
}

/** Lower-case hex of an INTEGER's content, without sign or leading zero bytes. */
export function serialHexOf(integer: Tlv): string {
  const v = integer.value;
  if (v.length === 0) throw new PkiError('der.malformed', 'empty INTEGER');
  if (v.length > 1 && ((v[0] === 0 && (v[1]! & 0x80) === 0) || (v[0] === 0xff && (v[1]! & 0x80) !== 0))) throw new PkiError('der.malformed', 'non-minimal INTEGER');
  if (v[0]! & 0x80) throw new PkiError('der.malformed', 'negative serial number');
  let i = 0;
  while (i < v.length - 1 && v[i] === 0) i++;
  return toHex(v.subarray(i));
}

function readAlgorithm(t: Tlv | undefined, what: string): { oid: string; raw: Uint8Array } {
  const alg = expectTag(t, TAG.SEQUENCE, what);
  const parts = readChildren(alg);
  const id = expectTag(parts[0], TAG.OID, `${what} OID`);
  return { oid: decodeOid(id.value), raw: alg.raw };
}

/** Splits a SubjectPublicKeyInfo into its algorithm and key bits. */
export function readSpki(spki: Tlv): { algorithm: string; parameters: Uint8Array | null; publicKeyBits: Uint8Array } {
  const parts = readChildren(expectTag(spki, TAG.SEQUENCE, 'subjectPublicKeyInfo'));
  if (parts.length !== 2) throw new PkiError('der.malformed', 'subjectPublicKeyInfo must have two parts');
  const alg = readChildren(expectTag(parts[0], TAG.SEQUENCE, 'algorithm'));
  const bits = expectTag(parts[1], TAG.BIT_STRING, 'subjectPublicKey');
  if (bits.value.length < 2 || bits.value[0] !== 0) throw new PkiError('der.malformed', 'subjectPublicKey must have no unused bits');
  return {
    algorithm: decodeOid(expectTag(alg[0], TAG.OID, 'algorithm OID').value),
    parameters: alg[1]?.raw ?? null,
    publicKeyBits: bits.value.subarray(1),
  };
}

/**
 * Parses a DER certificate strictly (RFC 5280 structure, DER lengths, no trailing bytes). Throws
 * `PkiError('der.malformed')` for anything else: malformed and truncated input never crash a caller.
 */
export function parseCertificate(der: Uint8Array): ParsedCertificate {
  const outer = readOne(der, TAG.SEQUENCE);
  const [tbsT, algT, sigT, ...rest] = readChildren(outer);
  if (rest.length) throw new PkiError('der.malformed', 'certificate has extra parts');
  const tbs = expectTag(tbsT, TAG.SEQUENCE, 'tbsCertificate');
  const alg = readAlgorithm(algT, 'signatureAlgorithm');
  const sig = expectTag(sigT, TAG.BIT_STRING, 'signatureValue');
  if (sig.value.length < 2 || sig.value[0] !== 0) throw new PkiError('der.malformed', 'signatureValue must have no unused bits');
  const f = readChildren(tbs);
  let i = 0;
  let version = 1;
  if (f[0]?.tag === 0xa0) {
    const v = readChildren(f[0]);
    const vInt = expectTag(v[0], TAG.INTEGER, 'version');
    if (vInt.value.length !== 1 || vInt.value[0]! > 2) throw new PkiError('der.malformed', 'bad version');
    version = vInt.value[0]! + 1;
    i++;
  }
  const serial = expectTag(f[i++], TAG.INTEGER, 'serialNumber');
  const innerAlg = readAlgorithm(f[i++], 'signature');
  if (!bytesEqual(innerAlg.raw, alg.raw)) throw new PkiError('der.malformed', 'inner and outer signature algorithms differ');
  const issuer = expectTag(f[i++], TAG.SEQUENCE, 'issuer');
  const validity = readChildren(expectTag(f[i++], TAG.SEQUENCE, 'validity'));
  if (validity.length !== 2) throw new PkiError('der.malformed', 'validity must have two times');
  const subject = expectTag(f[i++], TAG.SEQUENCE, 'subject');
  const spki = expectTag(f[i++], TAG.SEQUENCE, 'subjectPublicKeyInfo');
  const { publicKeyBits } = readSpki(spki);
  const extensions: Array<{ oid: string; critical: boolean; value: Uint8Array }> = [];
  for (; i < f.length; i++) {
    const t = f[i]!;
    if (t.tag === 0xa1 || t.tag === 0x81 || t.tag === 0xa2 || t.tag === 0x82) continue; // unique ids
    if (t.tag !== 0xa3) throw new PkiError('der.malformed', 'unexpected field in tbsCertificate');
    const list = readChildren(expectTag(readChildren(t)[0], TAG.SEQUENCE, 'extensions'));
    for (const e of list) {
      const parts = readChildren(expectTag(e, TAG.SEQUENCE, 'extension'));
      const id = decodeOid(expectTag(parts[0], TAG.OID, 'extnID').value);
      let critical = false;
      let k = 1;
      if (parts[1]?.tag === TAG.BOOLEAN) { critical = parts[1].value[0] === 0xff; k = 2; }
      const value = expectTag(parts[k], TAG.OCTET_STRING, 'extnValue').value;
      if (extensions.some((x) => x.oid === id)) throw new PkiError('der.malformed', `extension ${id} appears twice`);
      extensions.push({ oid: id, critical, value });
    }
  }
  return {
    der,
    tbs: tbs.raw,
    signatureAlgorithm: alg.oid,
    signature: sig.value.subarray(1),
    version,
    serialNumber: serialHexOf(serial),
    issuer: issuer.raw,
    subject: subject.raw,
    notBefore: readX509Time(validity[0]!),
    notAfter: readX509Time(validity[1]!),
    spki: spki.raw,
    publicKeyBits,
    extensions,
  };
}

/** Was `cert` signed by the holder of `issuerKey`? (Names are compared by the caller.) */
export function verifyCertificateSignature(cert: ParsedCertificate, issuerKey: KeyObject): boolean {
  return verifyX509Signature(issuerKey, cert.signatureAlgorithm, cert.tbs, cert.signature);
}

export function certificatePublicKey(cert: ParsedCertificate): KeyObject {
  return importPublicKey(cert.spki);
}

/** The summary carried by events and shown by the cabinet. */
export function certificateSummary(input: Uint8Array | ParsedCertificate): CertificateSummary {
  const cert = input instanceof Uint8Array ? parseCertificate(input) : input;
  return {
    serialNumber: cert.serialNumber,
    subject: nameToString(cert.subject),
    issuer: nameToString(cert.issuer),
    notBefore: cert.notBefore.toISOString(),
    notAfter: cert.notAfter.toISOString(),
  };
}

/** SHA-256 of a SubjectPublicKeyInfo, hex: the registry's key for "this public key already has a certificate". */
export function spkiFingerprint(spki: Uint8Array): string {
  return createHash('sha256').update(spki).digest('hex');
}

/** RFC 5280 §4.2.1.2 method 1: SHA-1 of the subjectPublicKey bits. */
export function keyIdentifier(publicKeyBits: Uint8Array): Bytes {
  return createHash('sha1').update(publicKeyBits).digest();
}

export function derToPem(der: Uint8Array, label = 'CERTIFICATE'): string {
  const b64 = Buffer.from(der).toString('base64').replace(/(.{64})/g, '$1\n').replace(/\n$/, '');
  return `-----BEGIN ${label}-----\n${b64}\n-----END ${label}-----\n`;
}

/** Every PEM block with the given label, as DER. */
export function pemToDers(pem: string, label = 'CERTIFICATE'): Uint8Array[] {
  const re = new RegExp(`-----BEGIN ${label}-----([\\s\\S]*?)-----END ${label}-----`, 'g');
  return [...pem.matchAll(re)].map((m) => new Uint8Array(Buffer.from(m[1]!.replace(/\s+/g, ''), 'base64')));
}

/**
 * The canonical form of a serial number in hex: lower case, whole bytes, no leading zero bytes
 * (`00FF` → `ff`, `abc` → `0abc`). What `parseCertificate` answers and the registry stores.
 */
export function normalizeSerialHex(hex: string): string {
  if (!/^[0-9a-fA-F]+$/.test(hex)) throw new PkiError('pki.invalid', 'a serial number is hex');
  let h = hex.toLowerCase();
  if (h.length % 2) h = `0${h}`;
  while (h.length > 2 && h.startsWith('00')) h = h.slice(2);
  return h;
}
