import type { KeyObject } from 'node:crypto';
import type { Bytes, CrlEntry } from '@thk/pki';
import type { CertificateProfileName } from '../registry/index.js';

/** Nest injection token of the CA adapter. */
export const CERTIFICATE_AUTHORITY = Symbol('CERTIFICATE_AUTHORITY');

/** The issuing CA as relying parties and our checks see it. */
export interface IssuerInfo {
  certificate: Bytes;
  /** PEM of the CA certificate followed by its issuers up to the root (just itself when self-signed). */
  chainPem: string;
  /** The CA's subject Name (DER): every certificate's issuer, byte for byte. */
  subject: Bytes;
  subjectString: string;
  publicKey: KeyObject;
  keyId: Bytes;
  notBefore: Date;
  notAfter: Date;
}

/** What the gateway asks the CA to certify, after every check passed. */
export interface CertificateRequest {
  profile: CertificateProfileName;
  /** Subject Name DER (for temporary keys: the base certificate's subject, byte for byte). */
  subject: Uint8Array;
  /** SubjectPublicKeyInfo DER from the CSR and the key bits inside it. */
  spki: Uint8Array;
  publicKeyBits: Uint8Array;
  notBefore: Date;
  notAfter: Date;
  /** QcSSCD: the key was generated on, and never left, a signature creation device. */
  qcSscd: boolean;
}

export interface IssuedCertificate {
  der: Bytes;
  serialNumber: string;
  /** The window as written (whole seconds). */
  notBefore: Date;
  notAfter: Date;
}

export interface CrlRequest {
  thisUpdate: Date;
  nextUpdate: Date;
  crlNumber: number;
  entries: readonly CrlEntry[];
}

/**
 * The seam to a certificate authority. The gateway checks authorizations, keeps the registry and
 * publishes the CRL; the CA applies a profile, assigns serials and signs. The built-in CA
 * implements it for development and tests; a real CA gets its own adapter.
 */
export interface CertificateAuthority {
  readonly kind: string;
  readonly issuer: IssuerInfo;
  issue(request: CertificateRequest): Promise<IssuedCertificate>;
  signCrl(request: CrlRequest): Promise<Bytes>;
  close(): Promise<void>;
}
