/** Object identifiers used by the system's certificates, CSRs and CRLs. */
export const OID = {
  // attribute types (X.520)
  commonName: '2.5.4.3',
  surname: '2.5.4.4',
  serialNumber: '2.5.4.5',
  countryName: '2.5.4.6',
  organizationName: '2.5.4.10',
  title: '2.5.4.12',
  givenName: '2.5.4.42',
  organizationIdentifier: '2.5.4.97',
  // algorithms
  ecPublicKey: '1.2.840.10045.2.1',
  prime256v1: '1.2.840.10045.3.1.7',
  rsaEncryption: '1.2.840.113549.1.1.1',
  ecdsaWithSha256: '1.2.840.10045.4.3.2',
  sha256WithRsaEncryption: '1.2.840.113549.1.1.11',
  // extensions (RFC 5280)
  subjectKeyIdentifier: '2.5.29.14',
  keyUsage: '2.5.29.15',
  basicConstraints: '2.5.29.19',
  crlNumber: '2.5.29.20',
  crlReason: '2.5.29.21',
  crlDistributionPoints: '2.5.29.31',
  certificatePolicies: '2.5.29.32',
  authorityKeyIdentifier: '2.5.29.35',
  extKeyUsage: '2.5.29.37',
  qcStatements: '1.3.6.1.5.5.7.1.3',
  // ETSI EN 319 412-5 QC statements
  qcCompliance: '0.4.0.1862.1.1',
  qcSscd: '0.4.0.1862.1.4',
  qcType: '0.4.0.1862.1.6',
  qcTypeEsign: '0.4.0.1862.1.6.1',
  // ETSI EN 319 411-2 certificate policies for natural persons
  policyQcpNatural: '0.4.0.194112.1.0',
  policyQcpNaturalQscd: '0.4.0.194112.1.2',
} as const;

/** Short names used when a Name is written as a string (with @peculiar/x509's own CN, O, C, SN, G, T…). */
export const EXTRA_NAME_TYPES: Record<string, string> = {
  serialNumber: OID.serialNumber,
  organizationIdentifier: OID.organizationIdentifier,
};
