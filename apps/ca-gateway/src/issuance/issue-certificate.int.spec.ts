import { CertificateIssuedV1, GetCaCertificateV1, GetCrlV1, IssueCertificateV1 } from '@thk/contracts';
import { parseCertificate, OID } from '@thk/pki';
import { CaGatewayHarness } from '../testing/ca-gateway-harness.js';
import { opensslText, opensslVerify } from '../testing/openssl.js';

const h = new CaGatewayHarness();

beforeAll(async () => { await h.start(); });
afterAll(async () => { await h.close(); });

describe('IssueCertificate (ca-gateway on real NATS and Postgres)', () => {
  describe('a valid request', () => {
    it('answers CertificateIssued with a certificate that passes openssl verify -crl_check', async () => {
      const base = await h.certifiedBaseKey();
      const { data } = await h.request(base);
      await h.send(IssueCertificateV1.subject(), h.issueEnvelope(data));
      const [issued] = await h.tap.waitFor((e) => e.subject === CertificateIssuedV1.subject() && e.envelope.data.requestId === data.requestId);
      const cert = issued!.envelope.data.certificate;
      const der = new Uint8Array(Buffer.from(cert.der, 'base64'));
      const parsed = parseCertificate(der);
      expect(Buffer.from(parsed.subject)).toEqual(Buffer.from(parseCertificate(base.certificate).subject));
      expect(cert.notBefore).toBe(new Date(Math.floor(h.now.getTime() / 1000) * 1000).toISOString());
      expect(parsed.extensions.map((e) => e.oid)).toContain(OID.qcStatements);
      const { pem } = await h.rpc.call(GetCaCertificateV1, {});
      const crl = await h.rpc.call(GetCrlV1, {});
      const verdict = await opensslVerify(pem, Buffer.from(crl.der, 'base64'), der);
      expect(verdict).toEqual({ ok: true, output: expect.stringContaining(': OK') });
      const text = await opensslText(der);
      expect(text).toContain('Digital Signature, Non Repudiation');
      expect(text).toContain('CA:FALSE');
      expect(text).toContain('URI:http://127.0.0.1:8080/v1/ca/crl');
      expect(text).toContain('serialNumber=TINUA-1111111111');
    });
  });
});
