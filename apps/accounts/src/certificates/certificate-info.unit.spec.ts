import { generateKeyPairSync } from 'node:crypto';
import { TestCa } from '../testing/test-ca.js';
import { normalizeSerial, parseCertificate, personSubjectOf } from './certificate-info.js';

describe('certificate-info', () => {
  describe('personSubjectOf', () => {
    it('splits a Ukrainian full name into surname and given names, with TINUA serial number', () => {
      expect(personSubjectOf({ fullName: 'Тест Тест Тест', rnokpp: '1111111111', organization: null, edrpou: null, position: null })).toEqual({
        commonName: 'Тест Тест Тест', surname: 'Тест', givenName: 'Тест Тест', serialNumber: 'TINUA-1111111111',
        organization: null, organizationIdentifier: null, title: null, country: 'UA',
      });
    });

    it('adds the organisation with its NTRUA identifier and the position as title', () => {
      expect(personSubjectOf({ fullName: 'Петренко Петро Петрович', rnokpp: '2222222222', organization: 'ТОВ Ромашка', edrpou: '12345678', position: 'Директор' }))
        .toMatchObject({ organization: 'ТОВ Ромашка', organizationIdentifier: 'NTRUA-12345678', title: 'Директор' });
    });
  });

  describe('parseCertificate', () => {
    it('reads the summary and the person subject back from DER', async () => {
      const ca = await TestCa.create();
      const subject = personSubjectOf({ fullName: 'Тест Тест Тест', rnokpp: '1111111111', organization: 'ТОВ Ромашка', edrpou: '12345678', position: 'Директор' });
      const spki = generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey.export({ format: 'der', type: 'spki' });
      const notBefore = new Date('2026-01-01T00:00:00.000Z');
      const notAfter = new Date('2027-01-01T00:00:00.000Z');
      const issued = await ca.issue(new Uint8Array(spki).buffer, subject, notBefore, notAfter);
      const parsed = parseCertificate(issued.der);
      expect(parsed.subject).toEqual(subject);
      expect(parsed.summary).toEqual(issued.summary);
      expect(parsed.summary.notAfter).toBe('2027-01-01T00:00:00.000Z');
    });

    it('refuses bytes that are not a certificate', () => {
      expect(() => parseCertificate(Buffer.from('3003020101', 'hex'))).toThrow(expect.objectContaining({ code: 'certificate-invalid' }));
    });
  });

  describe('normalizeSerial', () => {
    it('lower-cases and drops leading zeros', () => {
      expect(normalizeSerial('00AB01')).toBe('ab01');
      expect(normalizeSerial('0')).toBe('0');
    });
  });
});
