import 'reflect-metadata';
import { AsnConvert } from '@peculiar/asn1-schema';
import {
  AuthorityKeyIdentifier, BasicConstraints, CertificatePolicies, CRLDistributionPoints, CRLNumber, CRLReason, CRLReasons,
  DistributionPoint, DistributionPointName, GeneralName, KeyIdentifier, KeyUsage, KeyUsageFlags, PolicyInformation,
} from '@peculiar/asn1-x509';
import type { RevocationReason } from '@thk/contracts';
import { oid, octetString, seq, tlv, TAG } from '../der.js';
import type { Bytes } from '../der.js';
import { OID } from '../oids.js';

/** One encoded `Extension` (extnID, critical when true, extnValue). */
export function extension(id: string, critical: boolean, value: Uint8Array): Bytes {
  return critical ? seq(oid(id), tlv(TAG.BOOLEAN, Uint8Array.of(0xff)), octetString(value)) : seq(oid(id), octetString(value));
}

const der = (value: unknown): Bytes => new Uint8Array(AsnConvert.serialize(value));

export const ext = {
  basicConstraints(ca: boolean, pathLen?: number): Bytes {
    return extension(OID.basicConstraints, true, der(new BasicConstraints(ca ? { cA: true, ...(pathLen === undefined ? {} : { pathLenConstraint: pathLen }) } : {})));
  },
  /** digitalSignature + nonRepudiation (contentCommitment) for signing keys; keyCertSign + cRLSign for a CA. */
  keyUsage(kind: 'signing' | 'ca'): Bytes {
    const flags = kind === 'signing' ? KeyUsageFlags.digitalSignature | KeyUsageFlags.nonRepudiation : KeyUsageFlags.keyCertSign | KeyUsageFlags.cRLSign;
    return extension(OID.keyUsage, true, der(new KeyUsage(flags)));
  },
  subjectKeyIdentifier(keyId: Uint8Array): Bytes {
    return extension(OID.subjectKeyIdentifier, false, octetString(keyId));
  },
  authorityKeyIdentifier(keyId: Uint8Array): Bytes {
    return extension(OID.authorityKeyIdentifier, false, der(new AuthorityKeyIdentifier({ keyIdentifier: new KeyIdentifier(Uint8Array.from(keyId)) })));
  },
  crlDistributionPoint(url: string): Bytes {
    const dp = new DistributionPoint({ distributionPoint: new DistributionPointName({ fullName: [new GeneralName({ uniformResourceIdentifier: url })] }) });
    return extension(OID.crlDistributionPoints, false, der(new CRLDistributionPoints([dp])));
  },
  certificatePolicies(policyOids: readonly string[]): Bytes {
    return extension(OID.certificatePolicies, false, der(new CertificatePolicies(policyOids.map((p) => new PolicyInformation({ policyIdentifier: p })))));
  },
  /**
   * ETSI EN 319 412-5 QCStatements: QcCompliance, QcType esign, and QcSSCD only when the key is
   * known to live in a qualified signature creation device.
   */
  qcStatements(options: { sscd: boolean }): Bytes {
    const statements = [
      seq(oid(OID.qcCompliance)),
      ...(options.sscd ? [seq(oid(OID.qcSscd))] : []),
      seq(oid(OID.qcType), seq(oid(OID.qcTypeEsign))),
    ];
    return extension(OID.qcStatements, false, seq(...statements));
  },
  crlNumber(n: number): Bytes {
    return extension(OID.crlNumber, false, der(new CRLNumber(n)));
  },
};

/** RFC 5280 CRLReason code of a reason name. */
export function crlReasonCode(reason: RevocationReason): number {
  return CRLReasons[reason];
}

/** A CRL entry's reasonCode extension (absent for `unspecified`, as RFC 5280 §5.3.1 recommends). */
export function crlReasonExtension(reason: RevocationReason): Bytes | null {
  if (reason === 'unspecified') return null;
  return extension(OID.crlReason, false, der(new CRLReason(CRLReasons[reason])));
}
