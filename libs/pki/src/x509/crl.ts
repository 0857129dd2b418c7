import type { RevocationReason } from '@thk/contracts';
import { bytesEqual, decodeOid, expectTag, explicit, readChildren, readOne, readX509Time, seq, smallInteger, TAG, unsignedInteger, x509Time } from '../der.js';
import type { Bytes, Tlv } from '../der.js';
import { PkiError } from '../pki-error.js';
import { serialHexOf } from './certificate.js';
import { assembleSigned, type X509Signer } from './builder.js';
import { crlReasonExtension, ext } from './extensions.js';

export interface CrlEntry {
  /** Lower-case hex serial. */
  serialNumber: string;
  revokedAt: Date;
  reason: RevocationReason;
}

export interface CrlFields {
  issuer: Uint8Array;
  issuerKeyId: Uint8Array;
  thisUpdate: Date;
  nextUpdate: Date;
  crlNumber: number;
  entries: readonly CrlEntry[];
}

/** A v2 CRL with authorityKeyIdentifier and cRLNumber, each entry with its reasonCode. */
export async function signCrl(fields: CrlFields, signer: X509Signer): Promise<Bytes> {
  const entries = fields.entries.map((e) => {
    const reason = crlReasonExtension(e.reason);
    return seq(unsignedInteger(Buffer.from(e.serialNumber.length % 2 ? `0${e.serialNumber}` : e.serialNumber, 'hex')), x509Time(e.revokedAt), ...(reason ? [seq(reason)] : []));
  });
  const tbs = seq(
    smallInteger(1),
    signer.algorithm,
    fields.issuer,
    x509Time(fields.thisUpdate),
    x509Time(fields.nextUpdate),
    ...(entries.length ? [seq(...entries)] : []),
    explicit(0, seq(ext.authorityKeyIdentifier(fields.issuerKeyId), ext.crlNumber(fields.crlNumber))),
  );
  return assembleSigned(tbs, signer.algorithm, await signer.sign(tbs));
}

export interface ParsedCrl {
  tbs: Uint8Array;
  signatureAlgorithm: string;
  signature: Uint8Array;
  issuer: Uint8Array;
  thisUpdate: Date;
  nextUpdate: Date | null;
  entries: Array<{ serialNumber: string; revokedAt: Date }>;
}

/** A thisUpdate / nextUpdate / revocationDate: present and a time element, or a PkiError. */
function readTime(t: Tlv | undefined, what: string): Date {
  if (!t) throw new PkiError('der.malformed', `${what} is missing`);
  if (t.tag !== TAG.UTC_TIME && t.tag !== TAG.GENERALIZED_TIME) throw new PkiError('der.malformed', `${what}: expected a UTCTime or GeneralizedTime, found tag 0x${t.tag.toString(16)}`);
  return readX509Time(t);
}

const isTime = (t: Tlv | undefined): boolean => t?.tag === TAG.UTC_TIME || t?.tag === TAG.GENERALIZED_TIME;

/**
 * Parses a CRL strictly (for tests, status checks and relying parties). Malformed and truncated
 * input (also a structure truncated inside and re-wrapped) answers `PkiError('der.malformed')`,
 * never another exception.
 */
export function parseCrl(der: Uint8Array): ParsedCrl {
  const [tbsT, algT, sigT, ...rest] = readChildren(readOne(der, TAG.SEQUENCE));
  if (rest.length) throw new PkiError('der.malformed', 'CRL has extra parts');
  const tbs = expectTag(tbsT, TAG.SEQUENCE, 'tbsCertList');
  const algSeq = expectTag(algT, TAG.SEQUENCE, 'signatureAlgorithm');
  const alg = readChildren(algSeq);
  const sig = expectTag(sigT, TAG.BIT_STRING, 'signature');
  if (sig.value.length < 2 || sig.value[0] !== 0) throw new PkiError('der.malformed', 'signature must have no unused bits');
  const f = readChildren(tbs);
  let i = 0;
  if (f[0]?.tag === TAG.INTEGER) {
    if (f[0].value.length !== 1 || f[0].value[0] !== 1) throw new PkiError('der.malformed', 'a CRL with a version must be v2');
    i++;
  }
  const innerAlg = expectTag(f[i++], TAG.SEQUENCE, 'tbsCertList signature');
  if (!bytesEqual(innerAlg.raw, algSeq.raw)) throw new PkiError('der.malformed', 'inner and outer signature algorithms differ');
  const issuer = expectTag(f[i++], TAG.SEQUENCE, 'issuer');
  const thisUpdate = readTime(f[i++], 'thisUpdate');
  let nextUpdate: Date | null = null;
  if (isTime(f[i])) nextUpdate = readTime(f[i++], 'nextUpdate');
  const entries: ParsedCrl['entries'] = [];
  if (f[i]?.tag === TAG.SEQUENCE) {
    for (const e of readChildren(f[i++]!)) {
      const parts = readChildren(expectTag(e, TAG.SEQUENCE, 'revokedCertificate'));
      if (parts.length > 3 || (parts[2] && parts[2].tag !== TAG.SEQUENCE)) throw new PkiError('der.malformed', 'unexpected field in a revoked certificate entry');
      entries.push({ serialNumber: serialHexOf(expectTag(parts[0], TAG.INTEGER, 'userCertificate')), revokedAt: readTime(parts[1], 'revocationDate') });
    }
  }
  if (f[i]?.tag === 0xa0) expectTag(readChildren(f[i++]!)[0], TAG.SEQUENCE, 'crlExtensions');
  if (i !== f.length) throw new PkiError('der.malformed', 'unexpected field in tbsCertList');
  return {
    tbs: tbs.raw,
    signatureAlgorithm: decodeOid(expectTag(alg[0], TAG.OID, 'algorithm').value),
    signature: sig.value.subarray(1),
    issuer: issuer.raw,
    thisUpdate,
    nextUpdate,
    entries,
  };
}
