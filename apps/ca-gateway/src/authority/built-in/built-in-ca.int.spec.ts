import { randomBytes, randomUUID, webcrypto } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CertifyCloudKeyV1, GetCaCertificateV1, GetCrlV1, IssueCertificateV1 } from '@thk/contracts';
import { AppError } from '@thk/core';
import { createCsr, createTestCa, derToPem, ext, issueTestCertificate, keyIdentifier, nameToString, parseCertificate, randomSerial, signCertificate, spkiFingerprint, TEST_PERSON } from '@thk/pki';
import { createTestDatabase, startTestNats, type TestDatabase, type TestNats } from '@thk/testing';
import { startCaGateway } from '../../ca-gateway.app.js';
import { CertificateRegistry } from '../../registry/certificate-registry.js';
import { CaGatewayHarness } from '../../testing/ca-gateway-harness.js';
import { opensslVerify } from '../../testing/openssl.js';

describe('BuiltInCertificateAuthority (ca-gateway started for real)', () => {
  describe('first start and restarts', () => {
    const h = new CaGatewayHarness();
    beforeAll(async () => { await h.start(); });
    afterAll(async () => { await h.close(); });

    it('creates a self-signed P-256 CA valid for the configured years, key sealed in the database', async () => {
      const { pem, chainPem, notAfter } = await h.rpc.call(GetCaCertificateV1, {});
      expect(chainPem).toBe(pem);
      expect(new Date(notAfter).getTime()).toBeGreaterThan(Date.now() + 3_640 * 86_400_000);
      const [row] = await h.gateway.dataSource.query('SELECT key_storage, sealed_key, kek_id FROM ca_authority');
      expect(row.key_storage).toBe('software');
      expect(row.kek_id).toBe('test-kek');
      expect(row.sealed_key.subarray(0, 1)[0]).toBe(1);
    });

    it('keeps the same CA across a restart and still signs with it', async () => {
      const before = await h.rpc.call(GetCaCertificateV1, {});
      await h.restart();
      const after = await h.rpc.call(GetCaCertificateV1, {});
      expect(after.pem).toBe(before.pem);
      const base = await h.certifiedBaseKey();
      const crl = await h.rpc.call(GetCrlV1, {});
      expect((await opensslVerify(after.pem, Buffer.from(crl.der, 'base64'), base.certificate)).ok).toBe(true);
    });

    it('refuses to start with another key-encryption key', async () => {
      await h.gateway.close();
      await expect(startCaGateway({ ...h.config, kek: { id: 'test-kek', key: randomBytes(32) } })).rejects.toThrow(/cannot be unsealed/);
      await expect(startCaGateway({ ...h.config, kek: { id: 'kek-2', key: h.config.kek.key } })).rejects.toThrow(/sealed under KEK "test-kek"/);
      h.gateway = await startCaGateway(h.config);
    });

    it('answers not-available to CertifyCloudKey outside development mode', async () => {
      await h.restart({ devMode: false });
      const keys = await webcrypto.subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-256' }, false, ['sign', 'verify']) as CryptoKeyPair;
      const call = h.rpc.call(CertifyCloudKeyV1, {
        userId: randomUUID(), keyId: randomUUID(), subject: TEST_PERSON, csr: Buffer.from(await createCsr(TEST_PERSON, keys)).toString('base64'),
        notBefore: new Date().toISOString(), notAfter: new Date(Date.now() + 86_400_000).toISOString(),
      });
      await expect(call).rejects.toMatchObject({ code: 'not-available' });
      await h.restart({ devMode: true });
    });
  });

  describe('CertifyCloudKeyV1', () => {
    const h = new CaGatewayHarness();
    beforeAll(async () => { await h.start(); });
    afterAll(async () => { await h.close(); });

    it('honours a past window, answers a retried call with the same certificate, refuses the key elsewhere', async () => {
      const keys = await webcrypto.subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-256' }, false, ['sign', 'verify']) as CryptoKeyPair;
      const request = {
        userId: randomUUID(), keyId: randomUUID(), subject: TEST_PERSON, csr: Buffer.from(await createCsr(TEST_PERSON, keys)).toString('base64'),
        notBefore: '2020-01-01T00:00:00.000Z', notAfter: '2021-01-01T00:00:00.000Z',
      };
      const first = await h.rpc.call(CertifyCloudKeyV1, request);
      expect(first.certificate).toMatchObject({ notBefore: '2020-01-01T00:00:00.000Z', notAfter: '2021-01-01T00:00:00.000Z', subject: 'CN=Тест Тест Тест, SN=Тест, G=Тест Тест, serialNumber=TINUA-1111111111, C=UA' });
      expect(await h.rpc.call(CertifyCloudKeyV1, request)).toEqual(first);
      await expect(h.rpc.call(CertifyCloudKeyV1, { ...request, keyId: randomUUID() })).rejects.toMatchObject({ code: 'public-key-reused' });
      await expect(h.rpc.call(CertifyCloudKeyV1, { ...request, csr: Buffer.from('garbage').toString('base64') })).rejects.toMatchObject({ code: 'csr-invalid' });
      await expect(h.rpc.call(CertifyCloudKeyV1, { ...request, notAfter: '2019-01-01T00:00:00.000Z' })).rejects.toMatchObject({ code: 'validation-failed' });
      await expect(h.rpc.call(CertifyCloudKeyV1, { ...request, notAfter: '2099-01-01T00:00:00.000Z' })).rejects.toBeInstanceOf(AppError);
    });
  });

  describe('an imported CA', () => {
    let db: TestDatabase;
    let nats: TestNats;
    let dir: string;
    const h = new CaGatewayHarness();

    beforeAll(async () => {
      db = await createTestDatabase('ca_import');
      nats = await startTestNats();
      dir = await mkdtemp(join(tmpdir(), 'thk-ca-import-'));
    });
    afterAll(async () => {
      await h.close();
      await nats.stop();
      await db.drop();
      await rm(dir, { recursive: true, force: true });
    });

    it('imports certificate, key and chain at first start, and caps windows at the CA notAfter', async () => {
      const root = await createTestCa({ commonName: 'THK Test Root', pathLength: 1 });
      const now = new Date();
      // An intermediate whose validity ends in 30 days, signed by the root.
      const intermediate = await createTestCa({ commonName: 'THK Test Intermediate', notAfter: new Date(now.getTime() + 30 * 86_400_000) });
      const interCert = parseCertificate(intermediate.certificate);
      const reissued = await signCertificate({
        serial: randomSerial(), issuer: root.subject, subject: interCert.subject, spki: interCert.spki, notBefore: interCert.notBefore, notAfter: interCert.notAfter,
        extensions: [ext.basicConstraints(true, 0), ext.keyUsage('ca'), ext.subjectKeyIdentifier(keyIdentifier(interCert.publicKeyBits)), ext.authorityKeyIdentifier(root.keyId)],
      }, root.signer);
      await writeFile(join(dir, 'ca.pem'), derToPem(reissued));
      await writeFile(join(dir, 'ca.key'), intermediate.privateKey.export({ format: 'pem', type: 'pkcs8' }));
      await writeFile(join(dir, 'chain.pem'), derToPem(root.certificate));
      await h.start({ databaseUrl: db.url, natsUrl: nats.url, config: { ca: { commonName: 'ignored', organization: null, validityDays: 1, pkcs11: null, import: { certificateFile: join(dir, 'ca.pem'), keyFile: join(dir, 'ca.key'), chainFile: join(dir, 'chain.pem') } } } });

      const { pem, chainPem } = await h.rpc.call(GetCaCertificateV1, {});
      expect(pem).toBe(derToPem(reissued));
      expect(chainPem).toBe(derToPem(reissued) + derToPem(root.certificate));

      // A base certificate from the imported key that outlives the CA (only possible outside the dev RPC).
      const baseCert = await issueTestCertificate({ ...intermediate, certificate: reissued }, { notBefore: new Date(now.getTime() - 86_400_000), notAfter: new Date(now.getTime() + 90 * 86_400_000) });
      const base = { userId: randomUUID(), keyId: randomUUID(), subject: TEST_PERSON, privateKey: baseCert.privateKey, certificate: baseCert.certificate, serialNumber: parseCertificate(baseCert.certificate).serialNumber, notAfter: parseCertificate(baseCert.certificate).notAfter };
      // Only a cloud-key certificate in the registry can be a base: record it as one.
      const parsedBase = parseCertificate(baseCert.certificate);
      await h.gateway.dataSource.transaction((m) => new CertificateRegistry(h.gateway.dataSource).insertIssued(m, {
        serialNumber: parsedBase.serialNumber, profile: 'cloud-key', requestId: null, keyId: base.keyId, userId: base.userId, baseSerialNumber: null, tokenSerial: null,
        subject: nameToString(parsedBase.subject), issuer: nameToString(parsedBase.issuer), notBefore: parsedBase.notBefore, notAfter: parsedBase.notAfter,
        spkiSha256: spkiFingerprint(parsedBase.spki), qcSscd: false, der: baseCert.certificate, issuedAt: now,
      }));
      const { data: tooLong } = await h.request(base, { validity: 'base', notAfter: base.notAfter });
      await h.send(IssueCertificateV1.subject(), h.issueEnvelope(tooLong));
      const [refused] = await h.tap.waitFor((e) => e.envelope.data?.requestId === tooLong.requestId);
      expect(refused!.envelope.data).toMatchObject({ code: 'window-exceeds-cap', message: expect.stringContaining('issuing CA') });

      const { data: capped } = await h.request(base, { validity: 'base', notAfter: interCert.notAfter });
      await h.send(IssueCertificateV1.subject(), h.issueEnvelope(capped));
      const [ok] = await h.tap.waitFor((e) => e.envelope.data?.requestId === capped.requestId);
      expect(ok!.envelope.data.certificate.notAfter).toBe(interCert.notAfter.toISOString());
      const crl = await h.rpc.call(GetCrlV1, {});
      // openssl needs the root as the trust anchor and the CA as an untrusted intermediate.
      await writeFile(join(dir, 'root.pem'), derToPem(root.certificate));
      const verdict = await opensslVerify(derToPem(root.certificate), Buffer.from(crl.der, 'base64'), Buffer.from(ok!.envelope.data.certificate.der, 'base64'), ['-untrusted', join(dir, 'ca.pem')]);
      expect(verdict).toEqual({ ok: true, output: expect.stringContaining(': OK') });
    });
  });
});
