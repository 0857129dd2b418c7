import 'reflect-metadata';
import { randomBytes, webcrypto } from 'node:crypto';
import {
  BasicConstraintsExtension, KeyUsageFlags, KeyUsagesExtension, Pkcs10CertificateRequest, X509Certificate, X509CertificateGenerator,
} from '@peculiar/x509';
import type { NatsConnection, Subscription } from '@nats-io/transport-node';
import { CertifyCloudKeyV1, type CertificateSummary, type PersonSubject } from '@thk/contracts';
import { subjectName } from '../dev-users/cloud-key-csr.js';
import { normalizeSerial } from '../certificates/certificate-info.js';

const ES256 = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' } as const;
const crypto = webcrypto as unknown as Crypto;

export interface IssuedCertificate { summary: CertificateSummary; der: Buffer; certificate: X509Certificate }

/**
 * A throwaway CA for this service's tests. It plays the CA gateway's `CertifyCloudKey` on the bus
 * (the real one lives in another service) and issues temporary key certificates for formed events.
 */
export class TestCa {
  private subscription: Subscription | undefined;
  certifyCalls = 0;

  private constructor(private readonly keys: CryptoKeyPair, readonly certificate: X509Certificate) {}

  static async create(): Promise<TestCa> {
    const keys = await crypto.subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-256' }, false, ['sign', 'verify']) as CryptoKeyPair;
    const now = Date.now();
    const certificate = await X509CertificateGenerator.createSelfSigned({
      serialNumber: randomBytes(8).toString('hex'),
      name: 'CN=THK Test Issuing CA, C=UA',
      notBefore: new Date(now - 5 * 365 * 86_400_000),
      notAfter: new Date(now + 10 * 365 * 86_400_000),
      signingAlgorithm: ES256,
      keys,
      extensions: [new BasicConstraintsExtension(true, 0, true), new KeyUsagesExtension(KeyUsageFlags.keyCertSign | KeyUsageFlags.cRLSign, true)],
    }, crypto);
    return new TestCa(keys, certificate);
  }

  /** Certifies `publicKey` (SPKI DER or a CSR's key) for `subject` and the window asked. */
  async issue(publicKeySpki: ArrayBuffer, subject: PersonSubject, notBefore: Date, notAfter: Date): Promise<IssuedCertificate> {
    const publicKey = await crypto.subtle.importKey('spki', publicKeySpki, { name: 'ECDSA', namedCurve: 'P-256' }, true, ['verify']);
    const serial = `7${randomBytes(15).toString('hex')}`;
    const certificate = await X509CertificateGenerator.create({
      serialNumber: serial,
      subject: subjectName(subject),
      issuer: this.certificate.subjectName,
      notBefore, notAfter,
      signingAlgorithm: ES256,
      publicKey,
      signingKey: this.keys.privateKey,
      extensions: [new KeyUsagesExtension(KeyUsageFlags.digitalSignature | KeyUsageFlags.nonRepudiation, true)],
    }, crypto);
    const der = Buffer.from(certificate.rawData);
    return {
      certificate,
      der,
      summary: {
        serialNumber: normalizeSerial(certificate.serialNumber),
        subject: certificate.subject,
        issuer: certificate.issuer,
        notBefore: certificate.notBefore.toISOString(),
        notAfter: certificate.notAfter.toISOString(),
      },
    };
  }

  /** Answers `ca.rpc.certify-cloud-key.v1` on `nc`, as the CA gateway would (reply shape of RpcClient). */
  serve(nc: NatsConnection): void {
    const encoder = new TextEncoder();
    this.subscription = nc.subscribe(CertifyCloudKeyV1.subject, {
      callback: (_err, msg) => {
        void (async () => {
          this.certifyCalls++;
          const request = CertifyCloudKeyV1.request.parse(msg.json());
          const csr = new Pkcs10CertificateRequest(Buffer.from(request.csr, 'base64'));
          if (!(await csr.verify(crypto))) {
            msg.respond(encoder.encode(JSON.stringify({ ok: false, error: { code: 'csr-invalid', message: 'bad CSR signature', retryable: false } })));
            return;
          }
          const issued = await this.issue(csr.publicKey.rawData, request.subject, new Date(request.notBefore), new Date(request.notAfter));
          msg.respond(encoder.encode(JSON.stringify({ ok: true, data: { certificate: { ...issued.summary, der: issued.der.toString('base64') } } })));
        })();
      },
    });
  }

  stop(): void {
    this.subscription?.unsubscribe();
  }
}
