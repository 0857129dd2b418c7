import type { CertifyCloudKeyV1, RpcRequest, RpcResponse } from '@thk/contracts';
import { AppError, type Logger } from '@thk/core';
import { parseCsr, personSubjectToNameDer, PkiError, spkiFingerprint, verifyCsrSignature, nameToString, type Bytes, type ParsedCsr } from '@thk/pki';
import type { DataSource } from 'typeorm';
import type { CertificateAuthority } from '../authority/certificate-authority.js';
import { caMetrics } from '../metrics.js';
import { summaryOf, type CertificateRegistry } from '../registry/certificate-registry.js';

/**
 * Development only (`CA_DEV_MODE=true`): certifies a development user's cloud key with the window
 * asked for, past windows included. The subject comes from the request, not from the CSR; the CSR
 * proves possession. The same key and window again answer the same certificate (a retried call);
 * a key certified otherwise is refused.
 */
export class CertifyCloudKeyService {
  constructor(
    private readonly dataSource: DataSource,
    private readonly registry: CertificateRegistry,
    private readonly ca: CertificateAuthority,
    private readonly devMode: boolean,
    private readonly clock: () => Date,
    private readonly log: Logger,
  ) {}

  async certify(req: RpcRequest<typeof CertifyCloudKeyV1>): Promise<RpcResponse<typeof CertifyCloudKeyV1>> {
    if (!this.devMode) throw new AppError('not-available', 'cloud keys are certified here in development mode only');
    let csr: ParsedCsr;
    try {
      csr = parseCsr(new Uint8Array(Buffer.from(req.csr, 'base64')));
    } catch (error) {
      if (error instanceof PkiError) throw new AppError('csr-invalid', `the CSR cannot be used: ${error.message}`);
      throw error;
    }
    if (!verifyCsrSignature(csr)) throw new AppError('csr-invalid', 'the CSR signature does not verify with its public key');
    let subject: Bytes;
    try {
      subject = personSubjectToNameDer(req.subject);
    } catch (error) {
      if (error instanceof PkiError) throw new AppError('validation-failed', error.message);
      throw error;
    }
    const notBefore = new Date(Math.floor(new Date(req.notBefore).getTime() / 1000) * 1000);
    const notAfter = new Date(Math.floor(new Date(req.notAfter).getTime() / 1000) * 1000);
    if (notAfter <= notBefore) throw new AppError('validation-failed', 'the window ends before it starts');
    if (notAfter > this.ca.issuer.notAfter) throw new AppError('validation-failed', `the window ends after the issuing CA certificate (${this.ca.issuer.notAfter.toISOString()})`);

    const spkiSha256 = spkiFingerprint(csr.spki);
    for (let attempt = 0; ; attempt++) {
      const existing = await this.registry.findByPublicKey(spkiSha256);
      if (existing) {
        if (existing.keyId === req.keyId && existing.notBefore.getTime() === notBefore.getTime() && existing.notAfter.getTime() === notAfter.getTime()) {
          return { certificate: summaryOf(existing) };
        }
        throw new AppError('public-key-reused', 'this public key already has a certificate');
      }
      const cert = await this.ca.issue({ profile: 'cloud-key', subject, spki: csr.spki, publicKeyBits: csr.publicKeyBits, notBefore, notAfter, qcSscd: false });
      const row = {
        serialNumber: cert.serialNumber, profile: 'cloud-key' as const, requestId: null, keyId: req.keyId, userId: req.userId, baseSerialNumber: null, tokenSerial: null,
        subject: nameToString(subject), issuer: this.ca.issuer.subjectString, notBefore: cert.notBefore, notAfter: cert.notAfter,
        spkiSha256, qcSscd: false, der: cert.der, issuedAt: this.clock(),
      };
      try {
        await this.dataSource.transaction((m) => this.registry.insertIssued(m, row));
      } catch (error) {
        // The same key certified concurrently: the next round answers from the registry.
        if (attempt === 0 && ((error as { code?: string }).code === '23505' || (error as { driverError?: { code?: string } }).driverError?.code === '23505')) continue;
        throw error;
      }
      caMetrics.issued.inc({ profile: 'cloud-key' });
      this.log.info({ keyId: req.keyId, serialNumber: row.serialNumber, notBefore: row.notBefore.toISOString(), notAfter: row.notAfter.toISOString() }, 'development cloud key certified');
      return { certificate: summaryOf({ ...row, der: Buffer.from(row.der), revokedAt: null, revocationReason: null }) };
    }
  }
}
