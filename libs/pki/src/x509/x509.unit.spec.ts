import 'reflect-metadata';
import { generateKeyPairSync, webcrypto } from 'node:crypto';
import { X509Certificate, X509Crl, KeyUsagesExtension, KeyUsageFlags, BasicConstraintsExtension, SubjectKeyIdentifierExtension, AuthorityKeyIdentifierExtension, CRLDistributionPointsExtension, CertificatePolicyExtension } from '@peculiar/x509';
import fc from 'fast-check';
import { PkiError } from '../pki-error.js';
import { readChildren, readOne, seq, tlv, type Tlv } from '../der.js';
import { OID } from '../oids.js';
import { createTestCa, issueTestCertificate, TEST_PERSON } from '../testing/test-pki.js';
import { certificateSummary, derToPem, keyIdentifier, parseCertificate, pemToDers, spkiFingerprint, verifyCertificateSignature } from './certificate.js';
import { buildCsr, createCsr, ecdsaDerToP1363, ecdsaP1363ToDer, parseCsr, verifyCsrSignature } from './csr.js';
import { randomSerial, signCertificate } from './builder.js';
import { ext } from './extensions.js';
import { parseCrl, signCrl } from './crl.js';
import { nameToString, personSubjectToNameDer } from './name.js';

/**
 * Every way of cutting one element's content short at any depth, with the enclosing elements
 * re-encoded around it (so the outer lengths still add up and the parser meets the hole inside).
 */
function innerTruncations(der: Uint8Array): Uint8Array[] {
  const out: Uint8Array[] = [];
  const walk = (t: Tlv, wrap: (element: Uint8Array) => Uint8Array): void => {
    for (let n = 0; n < t.value.length; n++) out.push(wrap(tlv(t.tag, t.value.subarray(0, n))));
    if ((t.tag & 0x20) === 0) return;
    const kids = readChildren(t);
    kids.forEach((kid, k) => walk(kid, (element) => wrap(tlv(t.tag, ...kids.map((c, j) => (j === k ? element : c.raw))))));
  };
  walk(readOne(der), (element) => element);
  return out;
}

async function ecKeys(): Promise<CryptoKeyPair> {
  return webcrypto.subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-256' }, false, ['sign', 'verify']) as Promise<CryptoKeyPair>;
}

/** Every PkiError is fine; anything else thrown (TypeError, RangeError…) is a crash. */
function expectRefusalOrResult(fn: () => unknown): void {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(PkiError);
  }
}

describe('x509', () => {
  describe('personSubjectToNameDer / nameToString', () => {
    it('writes the subject in certificate order with the РНОКПП as serialNumber', () => {
      const name = personSubjectToNameDer({ ...TEST_PERSON, organization: 'ТОВ "Рога, копита"', title: 'Директор', organizationIdentifier: 'NTRUA-12345678' });
      expect(nameToString(name)).toBe('O=ТОВ \\"Рога\\, копита\\", organizationIdentifier=NTRUA-12345678, T=Директор, CN=Тест Тест Тест, SN=Тест, G=Тест Тест, serialNumber=TINUA-1111111111, C=UA');
    });
    it('leaves out null fields', () => {
      expect(nameToString(personSubjectToNameDer({ ...TEST_PERSON, surname: null, givenName: null }))).toBe('CN=Тест Тест Тест, serialNumber=TINUA-1111111111, C=UA');
    });
    it('refuses a serialNumber that is not a PrintableString', () => {
      expect(() => personSubjectToNameDer({ ...TEST_PERSON, serialNumber: 'ТІН-1' })).toThrow(PkiError);
    });
  });

  describe('createCsr / parseCsr / verifyCsrSignature', () => {
    it('creates an ECDSA P-256 CSR whose proof of possession verifies', async () => {
      const csr = parseCsr(await createCsr(TEST_PERSON, await ecKeys()));
      expect(csr.keyAlgorithm).toBe('EC-P256');
      expect(verifyCsrSignature(csr)).toBe(true);
      expect(nameToString(csr.subject)).toContain('serialNumber=TINUA-1111111111');
    });
    it('creates an RSA-2048 CSR whose proof of possession verifies', async () => {
      const keys = await webcrypto.subtle.generateKey({ name: 'RSASSA-PKCS1-v1_5', modulusLength: 2048, publicExponent: new Uint8Array([1, 0, 1]), hash: 'SHA-256' }, false, ['sign', 'verify']) as CryptoKeyPair;
      const csr = parseCsr(await createCsr(TEST_PERSON, keys));
      expect(csr.keyAlgorithm).toBe('RSA-2048');
      expect(verifyCsrSignature(csr)).toBe(true);
    });
    it('refuses a CSR whose signature was made by another key', async () => {
      const a = await createCsr(TEST_PERSON, await ecKeys());
      const b = parseCsr(await createCsr(TEST_PERSON, await ecKeys()));
      const other = parseCsr(a);
      // b's info signed by a's key: swap the signatures.
      expect(verifyCsrSignature({ ...b, signature: other.signature })).toBe(false);
    });
    it('refuses a CSR whose content was changed after signing', async () => {
      const der = Buffer.from(await createCsr(TEST_PERSON, await ecKeys()));
      const i = der.indexOf(Buffer.from('TINUA-1111111111'));
      der[i + 6] = '2'.charCodeAt(0);
      expect(verifyCsrSignature(parseCsr(der))).toBe(false);
    });
    it('builds a CSR from a raw r‖s signer (as a PKCS#11 token answers)', async () => {
      const { publicKey, privateKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
      const der = await buildCsr({
        subject: personSubjectToNameDer(TEST_PERSON),
        spki: new Uint8Array(publicKey.export({ format: 'der', type: 'spki' })),
        keyAlgorithm: 'EC-P256',
        sign: async (data) => ecdsaP1363ToDer((await import('node:crypto')).sign('sha256', data, { key: privateKey, dsaEncoding: 'ieee-p1363' })),
      });
      expect(verifyCsrSignature(parseCsr(der))).toBe(true);
    });
    it('refuses P-384 keys as unsupported', async () => {
      const keys = await webcrypto.subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-384' }, false, ['sign', 'verify']) as CryptoKeyPair;
      const der = await createCsr(TEST_PERSON, keys);
      expect(() => parseCsr(der)).toThrow(/P-256/);
    });
    it('answers a PkiError for every truncation of a CSR, never a crash', async () => {
      const der = await createCsr(TEST_PERSON, await ecKeys());
      for (let n = 0; n < der.length; n++) expect(() => parseCsr(der.subarray(0, n))).toThrow(PkiError);
    });
    it('answers a PkiError or a result for every truncation inside any element of a CSR', async () => {
      const der = await createCsr(TEST_PERSON, await ecKeys());
      for (const v of innerTruncations(der)) expectRefusalOrResult(() => { const c = parseCsr(v); verifyCsrSignature(c); });
    });
    it('answers a PkiError or a result for arbitrary corruptions of a CSR', async () => {
      const der = await createCsr(TEST_PERSON, await ecKeys());
      fc.assert(fc.property(fc.nat(der.length - 1), fc.integer({ min: 0, max: 255 }), (i, b) => {
        const copy = Uint8Array.from(der);
        copy[i] = b;
        expectRefusalOrResult(() => { const c = parseCsr(copy); verifyCsrSignature(c); });
      }), { numRuns: 500 });
    });
  });

  describe('ecdsaP1363ToDer / ecdsaDerToP1363', () => {
    it('round-trips signatures with high bits and leading zeros', () => {
      fc.assert(fc.property(fc.uint8Array({ minLength: 64, maxLength: 64 }), (raw) => {
        expect(Buffer.from(ecdsaDerToP1363(ecdsaP1363ToDer(raw)))).toEqual(Buffer.from(raw));
      }));
    });
  });

  describe('signCertificate / parseCertificate', () => {
    it('issues a certificate that @peculiar/x509 reads with the extensions we wrote', async () => {
      const ca = await createTestCa();
      const csr = parseCsr(await createCsr(TEST_PERSON, await ecKeys()));
      const notBefore = new Date('2021-08-25T13:59:00Z');
      const notAfter = new Date('2022-08-25T13:21:00Z');
      const der = await signCertificate({
        serial: randomSerial(), issuer: ca.subject, subject: csr.subject, spki: csr.spki, notBefore, notAfter,
        extensions: [ext.basicConstraints(false), ext.keyUsage('signing'), ext.subjectKeyIdentifier(keyIdentifier(csr.publicKeyBits)), ext.authorityKeyIdentifier(ca.keyId), ext.crlDistributionPoint('http://127.0.0.1:8080/v1/ca/crl'), ext.certificatePolicies([OID.policyQcpNaturalQscd]), ext.qcStatements({ sscd: true })],
      }, ca.signer);
      const x = new X509Certificate(der);
      expect(await x.verify({ publicKey: new X509Certificate(ca.certificate).publicKey, signatureOnly: true })).toBe(true);
      expect(x.notBefore.toISOString()).toBe(notBefore.toISOString());
      expect(x.notAfter.toISOString()).toBe(notAfter.toISOString());
      const ku = x.getExtension(KeyUsagesExtension)!;
      expect(ku.critical).toBe(true);
      expect(ku.usages).toBe(KeyUsageFlags.digitalSignature | KeyUsageFlags.nonRepudiation);
      const bc = x.getExtension(BasicConstraintsExtension)!;
      expect(bc.ca).toBe(false);
      expect(x.getExtension(SubjectKeyIdentifierExtension)!.keyId).toBe(Buffer.from(keyIdentifier(csr.publicKeyBits)).toString('hex'));
      expect(x.getExtension(AuthorityKeyIdentifierExtension)!.keyId).toBe(Buffer.from(ca.keyId).toString('hex'));
      expect(x.getExtension(CRLDistributionPointsExtension)!.distributionPoints[0]!.distributionPoint!.fullName![0]!.uniformResourceIdentifier).toBe('http://127.0.0.1:8080/v1/ca/crl');
      expect(x.getExtension(CertificatePolicyExtension)!.policies).toEqual([OID.policyQcpNaturalQscd]);
      expect(x.getExtension(OID.qcStatements)).toBeTruthy();

      const parsed = parseCertificate(der);
      expect(parsed.serialNumber).toMatch(/^[0-9a-f]{32}$/);
      expect(parsed.serialNumber).toBe(x.serialNumber.replace(/^(00)+/, '').toLowerCase());
      expect(verifyCertificateSignature(parsed, ca.publicKey)).toBe(true);
      expect(parsed.extensions.map((e) => e.oid)).toEqual([OID.basicConstraints, OID.keyUsage, OID.subjectKeyIdentifier, OID.authorityKeyIdentifier, OID.crlDistributionPoints, OID.certificatePolicies, OID.qcStatements]);
      expect(certificateSummary(der)).toEqual({
        serialNumber: parsed.serialNumber,
        subject: 'CN=Тест Тест Тест, SN=Тест, G=Тест Тест, serialNumber=TINUA-1111111111, C=UA',
        issuer: 'CN=THK Test CA, C=UA',
        notBefore: '2021-08-25T13:59:00.000Z',
        notAfter: '2022-08-25T13:21:00.000Z',
      });
    });

    it('writes GeneralizedTime from 2050 on', async () => {
      const ca = await createTestCa({ notAfter: new Date('2060-01-01T00:00:00Z') });
      expect(parseCertificate(ca.certificate).notAfter.toISOString()).toBe('2060-01-01T00:00:00.000Z');
      expect(new X509Certificate(ca.certificate).notAfter.toISOString()).toBe('2060-01-01T00:00:00.000Z');
    });

    it('does not verify with another CA key', async () => {
      const [ca, other] = [await createTestCa(), await createTestCa()];
      const leaf = await issueTestCertificate(ca);
      expect(verifyCertificateSignature(parseCertificate(leaf.certificate), other.publicKey)).toBe(false);
    });

    it('answers a PkiError for every truncation and for trailing bytes, never a crash', async () => {
      const ca = await createTestCa();
      const der = (await issueTestCertificate(ca)).certificate;
      for (let n = 0; n < der.length; n++) expect(() => parseCertificate(der.subarray(0, n))).toThrow(PkiError);
      expect(() => parseCertificate(Uint8Array.from([...der, 0]))).toThrow(PkiError);
    });

    it('answers a PkiError or a result for every truncation inside any element of a certificate', async () => {
      const ca = await createTestCa();
      const der = (await issueTestCertificate(ca)).certificate;
      for (const v of innerTruncations(der)) expectRefusalOrResult(() => { const c = parseCertificate(v); certificateSummary(c); verifyCertificateSignature(c, ca.publicKey); });
    });

    it('answers a PkiError or a result for arbitrary corruptions of a certificate', async () => {
      const ca = await createTestCa();
      const der = (await issueTestCertificate(ca)).certificate;
      fc.assert(fc.property(fc.nat(der.length - 1), fc.integer({ min: 0, max: 255 }), (i, b) => {
        const copy = Uint8Array.from(der);
        copy[i] = b;
        expectRefusalOrResult(() => { const c = parseCertificate(copy); certificateSummary(c); verifyCertificateSignature(c, ca.publicKey); });
      }), { numRuns: 500 });
    });

    it('refuses a BER (indefinite length) encoding', async () => {
      const ca = await createTestCa();
      const der = Buffer.from(ca.certificate);
      const ber = Buffer.concat([Buffer.from([0x30, 0x80]), der.subarray(der[1]! & 0x80 ? 2 + (der[1]! & 0x7f) : 2), Buffer.from([0, 0])]);
      expect(() => parseCertificate(ber)).toThrow(/indefinite/);
    });

    it('round-trips PEM', async () => {
      const ca = await createTestCa();
      expect(Buffer.from(pemToDers(derToPem(ca.certificate) + derToPem(ca.certificate))[1]!)).toEqual(Buffer.from(ca.certificate));
    });

    it('fingerprints public keys stably', async () => {
      const ca = await createTestCa();
      const leaf = await issueTestCertificate(ca);
      expect(spkiFingerprint(parseCertificate(leaf.certificate).spki)).toBe(spkiFingerprint(leaf.spki));
    });
  });

  describe('signCrl / parseCrl', () => {
    it('signs a CRL that @peculiar/x509 reads and verifies', async () => {
      const ca = await createTestCa();
      const thisUpdate = new Date('2026-01-01T00:00:00Z');
      const der = await signCrl({
        issuer: ca.subject, issuerKeyId: ca.keyId, thisUpdate, nextUpdate: new Date('2026-01-02T00:00:00Z'), crlNumber: 7,
        entries: [{ serialNumber: '00ff', revokedAt: thisUpdate, reason: 'keyCompromise' }, { serialNumber: 'abc', revokedAt: thisUpdate, reason: 'unspecified' }],
      }, ca.signer);
      const crl = new X509Crl(der);
      expect(await crl.verify({ publicKey: new X509Certificate(ca.certificate).publicKey })).toBe(true);
      expect(crl.entries.map((e) => e.serialNumber.toLowerCase())).toEqual(['ff', '0abc']);
      expect(crl.entries[0]!.reason).toBe(1);
      const parsed = parseCrl(der);
      expect(parsed.entries.map((e) => e.serialNumber)).toEqual(['ff', '0abc']);
      expect(parsed.nextUpdate?.toISOString()).toBe('2026-01-02T00:00:00.000Z');
    });

    async function sampleCrl(): Promise<{ der: Uint8Array; ca: Awaited<ReturnType<typeof createTestCa>> }> {
      const ca = await createTestCa();
      const at = new Date('2026-01-01T00:00:00Z');
      const der = await signCrl({
        issuer: ca.subject, issuerKeyId: ca.keyId, thisUpdate: at, nextUpdate: new Date('2026-01-02T00:00:00Z'), crlNumber: 3,
        entries: [{ serialNumber: '0a1b2c', revokedAt: at, reason: 'keyCompromise' }, { serialNumber: 'ff', revokedAt: at, reason: 'unspecified' }],
      }, ca.signer);
      return { der, ca };
    }

    it('answers a PkiError for every truncation and for trailing bytes, never a crash', async () => {
      const { der } = await sampleCrl();
      for (let n = 0; n < der.length; n++) expect(() => parseCrl(der.subarray(0, n))).toThrow(PkiError);
      expect(() => parseCrl(Uint8Array.from([...der, 0]))).toThrow(PkiError);
    });

    it('answers a PkiError when a field is missing inside a well-framed CRL (thisUpdate, revocationDate, signature bits)', async () => {
      const { der } = await sampleCrl();
      const [tbs, alg, sig] = readChildren(readOne(der));
      const f = readChildren(tbs!);
      // version, signature, issuer, thisUpdate, nextUpdate, revokedCertificates, [0] extensions
      for (let keep = 0; keep <= 3; keep++) expect(() => parseCrl(seq(seq(...f.slice(0, keep).map((t) => t.raw)), alg!.raw, sig!.raw))).toThrow(PkiError);
      const entries = readChildren(f[5]!);
      const cut = seq(...readChildren(entries[0]!).slice(0, 1).map((t) => t.raw));
      const withCutEntry = seq(...f.map((t, j) => (j === 5 ? seq(cut, entries[1]!.raw) : t.raw)));
      expect(() => parseCrl(seq(withCutEntry, alg!.raw, sig!.raw))).toThrow(PkiError);
      for (const bits of [Uint8Array.of(), Uint8Array.of(0), Uint8Array.of(3, 1, 2)]) expect(() => parseCrl(seq(tbs!.raw, alg!.raw, tlv(0x03, bits)))).toThrow(PkiError);
    });

    it('answers a PkiError or a result for every truncation inside any element of a CRL', async () => {
      const { der } = await sampleCrl();
      const variants = innerTruncations(der);
      expect(variants.length).toBeGreaterThan(der.length);
      for (const v of variants) expectRefusalOrResult(() => parseCrl(v));
    });

    it('answers a PkiError or a result for arbitrary corruptions of a CRL', async () => {
      const { der } = await sampleCrl();
      fc.assert(fc.property(fc.nat(der.length - 1), fc.integer({ min: 0, max: 255 }), (i, b) => {
        const copy = Uint8Array.from(der);
        copy[i] = b;
        expectRefusalOrResult(() => parseCrl(copy));
      }), { numRuns: 500 });
    });
  });
});
