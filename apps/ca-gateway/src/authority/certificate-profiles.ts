import { ext, keyIdentifier, OID, type Bytes } from '@thk/pki';
import type { CertificateProfileName } from '../registry/index.js';

export interface ProfileSettings {
  crlUrl: string;
  /** Certificate policies added to the ETSI one. */
  extraPolicyOids: readonly string[];
  issuerKeyId: Uint8Array;
}

/**
 * The certificate profiles, encoded once. Temporary hardware key: keyUsage digitalSignature +
 * nonRepudiation (critical), basicConstraints CA:false (critical), subject and authority key
 * identifiers, CRL distribution point, certificate policies (QCP-n-qscd with QcSSCD, else QCP-n)
 * and QC statements (QcCompliance, QcType esign, QcSSCD only with on-token evidence). The
 * development cloud-key profile is the same without QcSSCD: the key lives in a server depository.
 */
export class CertificateProfiles {
  private readonly head: Bytes[];
  private readonly tail: Record<'sscd' | 'plain', Bytes[]>;

  constructor(settings: ProfileSettings) {
    this.head = [ext.basicConstraints(false), ext.keyUsage('signing')];
    const common = [ext.authorityKeyIdentifier(settings.issuerKeyId), ext.crlDistributionPoint(settings.crlUrl)];
    this.tail = {
      sscd: [...common, ext.certificatePolicies([OID.policyQcpNaturalQscd, ...settings.extraPolicyOids]), ext.qcStatements({ sscd: true })],
      plain: [...common, ext.certificatePolicies([OID.policyQcpNatural, ...settings.extraPolicyOids]), ext.qcStatements({ sscd: false })],
    };
  }

  /** The encoded extensions of one certificate. */
  extensions(profile: CertificateProfileName, publicKeyBits: Uint8Array, qcSscd: boolean): Bytes[] {
    const sscd = profile === 'temporary-hardware-key' && qcSscd;
    return [...this.head, ext.subjectKeyIdentifier(keyIdentifier(publicKeyBits)), ...this.tail[sscd ? 'sscd' : 'plain']];
  }
}
