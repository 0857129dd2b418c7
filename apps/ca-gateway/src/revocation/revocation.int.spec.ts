import { CertificateRevokedV1, GetCaCertificateV1, GetCertificateStatusV1, GetCrlV1, IssueCertificateV1, RevokeCertificateV1 } from '@thk/contracts';
import { parseCrl } from '@thk/pki';
import { CaGatewayHarness, EventTap } from '../testing/ca-gateway-harness.js';
import { opensslVerify } from '../testing/openssl.js';

const h = new CaGatewayHarness();
const REVOKE = RevokeCertificateV1.subject();

beforeAll(async () => { await h.start(); });
afterAll(async () => { await h.close(); });

async function issued(): Promise<{ serialNumber: string; der: Buffer }> {
  const base = await h.certifiedBaseKey();
  const { data } = await h.request(base);
  await h.send(IssueCertificateV1.subject(), h.issueEnvelope(data));
  const [e] = await h.tap.waitFor((x) => x.envelope.data?.requestId === data.requestId);
  return { serialNumber: e!.envelope.data.certificate.serialNumber, der: Buffer.from(e!.envelope.data.certificate.der, 'base64') };
}

const revokedEvents = (serial: string) => h.tap.events.filter((e) => e.subject === CertificateRevokedV1.subject() && e.envelope.data.serialNumber === serial);
const crlNumber = async () => Number((await h.gateway.dataSource.query('SELECT max(crl_number) AS n FROM crls'))[0].n);

describe('RevokeCertificate and the CRL (ca-gateway started for real on NATS and Postgres)', () => {
  describe('RevokeCertificate', () => {
    it('revokes, answers CertificateRevoked, and publishes a CRL that makes openssl refuse the certificate', async () => {
      const cert = await issued();
      const { pem } = await h.rpc.call(GetCaCertificateV1, {});
      const before = await h.rpc.call(GetCrlV1, {});
      expect((await opensslVerify(pem, Buffer.from(before.der, 'base64'), cert.der)).ok).toBe(true);
      const n = await crlNumber();

      await h.send(REVOKE, h.revokeEnvelope(cert.serialNumber, 'cessationOfOperation'));
      const [e] = await h.tap.waitFor((x) => x.subject === CertificateRevokedV1.subject() && x.envelope.data.serialNumber === cert.serialNumber);
      expect(e!.envelope.data).toEqual({ serialNumber: cert.serialNumber, reason: 'cessationOfOperation', revokedAt: new Date(Math.floor(h.now.getTime() / 1000) * 1000).toISOString() });
      expect(await crlNumber()).toBe(n + 1);

      const after = await h.rpc.call(GetCrlV1, {});
      expect(parseCrl(Buffer.from(after.der, 'base64')).entries.map((x) => x.serialNumber)).toContain(cert.serialNumber);
      const verdict = await opensslVerify(pem, Buffer.from(after.der, 'base64'), cert.der);
      expect(verdict.ok).toBe(false);
      expect(verdict.output).toContain('certificate revoked');
      expect(await h.rpc.call(GetCertificateStatusV1, { serialNumber: cert.serialNumber })).toEqual({ status: 'revoked', revokedAt: e!.envelope.data.revokedAt, reason: 'cessationOfOperation' });
    });

    it('changes nothing when the same RevokeCertificate message is delivered twice', async () => {
      const cert = await issued();
      const envelope = h.revokeEnvelope(cert.serialNumber, 'superseded');
      const n = await crlNumber();
      await h.send(REVOKE, envelope);
      await h.tap.waitFor((x) => x.subject === CertificateRevokedV1.subject() && x.envelope.data.serialNumber === cert.serialNumber);
      await h.redeliver(REVOKE, envelope);
      // A later command on the same consumer proves the redelivery was handled before we count.
      const marker = await issued();
      await h.send(REVOKE, h.revokeEnvelope(marker.serialNumber));
      await h.tap.waitFor((x) => x.subject === CertificateRevokedV1.subject() && x.envelope.data.serialNumber === marker.serialNumber);
      await h.gateway.flushOutbox();
      expect(revokedEvents(cert.serialNumber)).toHaveLength(1);
      expect(await crlNumber()).toBe(n + 2); // one for each certificate, none for the redelivery
    });

    it('answers the first revocation again, unchanged, when revoked a second time', async () => {
      const cert = await issued();
      await h.send(REVOKE, h.revokeEnvelope(cert.serialNumber, 'keyCompromise'));
      const [first] = await h.tap.waitFor((x) => x.subject === CertificateRevokedV1.subject() && x.envelope.data.serialNumber === cert.serialNumber);
      const n = await crlNumber();
      h.now = new Date(h.now.getTime() + 5_000);
      await h.send(REVOKE, h.revokeEnvelope(cert.serialNumber, 'unspecified'));
      const events = await h.tap.waitFor((x) => x.subject === CertificateRevokedV1.subject() && x.envelope.data.serialNumber === cert.serialNumber, 2);
      expect(events[1]!.envelope.data).toEqual(first!.envelope.data);
      expect(await crlNumber()).toBe(n);
    });

    it('dead-letters a revocation of an unknown serial number', async () => {
      const dlq = new EventTap(h.client, 'dlq.>');
      try {
        const envelope = h.revokeEnvelope('0123456789abcdef');
        await h.send(REVOKE, envelope);
        const [letter] = await dlq.waitFor((x) => (x.envelope as any).original?.includes(envelope.id));
        expect((letter!.envelope as any).code).toBe('not-found');
      } finally {
        dlq.close();
      }
    });
  });

  describe('GetCertificateStatusV1', () => {
    it('answers good for an issued certificate and unknown for a serial never issued', async () => {
      const cert = await issued();
      expect(await h.rpc.call(GetCertificateStatusV1, { serialNumber: cert.serialNumber })).toEqual({ status: 'good', revokedAt: null, reason: null });
      expect(await h.rpc.call(GetCertificateStatusV1, { serialNumber: 'abcdef' })).toEqual({ status: 'unknown', revokedAt: null, reason: null });
    });
  });

  describe('CRL freshness', () => {
    it('signs a new CRL before nextUpdate, and never serves one past it', async () => {
      const current = await h.rpc.call(GetCrlV1, {});
      const n = await crlNumber();
      // Still fresh: nothing new.
      await h.gateway.crl.ensureFresh();
      expect(await crlNumber()).toBe(n);
      // Within the refresh margin (30 min of the 60 min validity left): a new CRL.
      h.now = new Date(new Date(current.nextUpdate).getTime() - 20 * 60_000);
      await h.gateway.crl.ensureFresh();
      expect(await crlNumber()).toBe(n + 1);
      // Past nextUpdate without a refresh: the query signs a fresh one first.
      h.now = new Date(h.now.getTime() + 2 * 3_600_000);
      const served = await h.rpc.call(GetCrlV1, {});
      expect(new Date(served.nextUpdate).getTime()).toBeGreaterThan(h.now.getTime());
      expect(served.thisUpdate).toBe(new Date(Math.floor(h.now.getTime() / 1000) * 1000).toISOString());
    });
  });
});
