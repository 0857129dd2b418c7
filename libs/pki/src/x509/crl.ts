import type { RevocationReason } from '@thk/contracts';
import { decodeOid, expectTag, explicit, readChildren, readOne, readX509Time, seq, smallInteger, TAG, unsignedInteger, x509Time } from '../der.js';
import type { Bytes } from '../der.js';
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

/** Parses a CRL strictly (for tests, status checks and relying parties). */
export function parseCrl(der: Uint8Array): ParsedCrl {
  const [tbsT, algT, sigT, ...rest] = readChildren(readOne(der, TAG.SEQUENCE));
  if (rest.length) throw new PkiError('der.malformed', 'CRL has extra parts');
  const tbs = expectTag(tbsT, TAG.SEQUENCE, 'tbsCertList');
  const alg = readChildren(expectTag(algT, TAG.SEQUENCE, 'signatureAlgorithm'));
  const sig = expectTag(sigT, TAG.BIT_STRING, 'signature');
  const f = readChildren(tbs);
  let i = 0;
  if (f[0]?.tag === TAG.INTEGER) i++;
  i++; // signature algorithm
  const issuer = expectTag(f[i++], TAG.SEQUENCE, 'issuer');
  const thisUpdate = readX509Time(f[i++]!);
  let nextUpdate: Date | null = null;
  if (f[i] && (f[i]!.tag === TAG.UTC_TIME || f[i]!.tag === TAG.GENERALIZED_TIME)) nextUpdate = readX509Time(f[i++]!);
  const entries: ParsedCrl['entries'] = [];
  if (f[i]?.tag === TAG.SEQUENCE) {
    for (const e of readChildren(f[i++]!)) {
      const parts = readChildren(e);
      entries.push({ serialNumber: serialHexOf(expectTag(parts[0], TAG.INTEGER, 'userCertificate')), revokedAt: readX509Time(parts[1]!) });
    }
  }
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
