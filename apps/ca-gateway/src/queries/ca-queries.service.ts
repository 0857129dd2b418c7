import type { GetCaCertificateV1, GetCertificateStatusV1, GetCrlV1, RpcRequest, RpcResponse } from '@thk/contracts';
import { derToPem, normalizeSerialHex } from '@thk/pki';
import type { CertificateAuthority } from '../authority/certificate-authority.js';
import type { CertificateRegistry } from '../registry/certificate-registry.js';
import type { CrlService } from '../revocation/crl.service.js';

/** What relying parties ask: the CA certificate, the current CRL, a certificate's status. */
export class CaQueries {
  constructor(private readonly ca: CertificateAuthority, private readonly crl: CrlService, private readonly registry: CertificateRegistry) {}

  caCertificate(): RpcResponse<typeof GetCaCertificateV1> {
    return { pem: derToPem(this.ca.issuer.certificate), chainPem: this.ca.issuer.chainPem, notAfter: this.ca.issuer.notAfter.toISOString() };
  }

  async currentCrl(): Promise<RpcResponse<typeof GetCrlV1>> {
    const crl = await this.crl.current();
    return { der: crl.der.toString('base64'), thisUpdate: crl.thisUpdate.toISOString(), nextUpdate: crl.nextUpdate.toISOString() };
  }

  async status(req: RpcRequest<typeof GetCertificateStatusV1>): Promise<RpcResponse<typeof GetCertificateStatusV1>> {
    const cert = await this.registry.findCertificate(normalizeSerialHex(req.serialNumber));
    if (!cert) return { status: 'unknown', revokedAt: null, reason: null };
    if (cert.revokedAt) return { status: 'revoked', revokedAt: cert.revokedAt.toISOString(), reason: cert.revocationReason };
    return { status: 'good', revokedAt: null, reason: null };
  }
}
