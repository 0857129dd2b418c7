import { generateKeyPairSync, type KeyObject } from 'node:crypto';
import type { PersonSubject } from '@thk/contracts';
import { oid, readOne, seq, tlv, TAG } from '../der.js';
import type { Bytes } from '../der.js';
import { OID } from '../oids.js';
import { keyIdentifier, parseCertificate, readSpki } from '../x509/certificate.js';
import { keyObjectSigner, randomSerial, selfSignedCaCertificate, signCertificate, type X509Signer } from '../x509/builder.js';
import { ext } from '../x509/extensions.js';
import { personSubjectToNameDer } from '../x509/name.js';

export interface TestCa {
  certificate: Bytes;
  subject: Bytes;
  keyId: Bytes;
  publicKey: KeyObject;
  privateKey: KeyObject;
  signer: X509Signer;
}

export interface TestKeyWithCertificate {
  certificate: Bytes;
  publicKey: KeyObject;
  privateKey: KeyObject;
  spki: Bytes;
}

export const TEST_PERSON: PersonSubject = {
  commonName: 'Тест Тест Тест',
  surname: 'Тест',
  givenName: 'Тест Тест',
  serialNumber: 'TINUA-1111111111',
  organization: null,
  organizationIdentifier: null,
  title: null,
  country: 'UA',
};

/** A Name with one CN (UTF8String), for test CAs. */
export function simpleName(commonName: string): Bytes {
  return seq(tlv(TAG.SET, seq(oid(OID.commonName), tlv(TAG.UTF8_STRING, Buffer.from(commonName)))), tlv(TAG.SET, seq(oid(OID.countryName), tlv(TAG.PRINTABLE_STRING, Buffer.from('UA')))));
}

/** A throw-away P-256 CA for tests (of this lib and of services that need certificates). */
export async function createTestCa(options: { commonName?: string; notBefore?: Date; notAfter?: Date; pathLength?: number } = {}): Promise<TestCa> {
  const { publicKey, privateKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
  const spki = new Uint8Array(publicKey.export({ format: 'der', type: 'spki' }));
  const subject = simpleName(options.commonName ?? 'THK Test CA');
  const signer = keyObjectSigner(privateKey);
  const now = Date.now();
  const certificate = await selfSignedCaCertificate({
    subject, spki, signer, ...(options.pathLength === undefined ? {} : { pathLength: options.pathLength }),
    notBefore: options.notBefore ?? new Date(now - 3_650 * 86_400_000),
    notAfter: options.notAfter ?? new Date(now + 3_650 * 86_400_000),
  });
  return { certificate, subject, keyId: keyIdentifier(readSpki(readOne(spki, TAG.SEQUENCE)).publicKeyBits), publicKey, privateKey, signer };
}

/** A P-256 key with an end-entity certificate from `ca` (a base certificate for authorization tests). */
export async function issueTestCertificate(ca: TestCa, options: { subject?: PersonSubject; notBefore?: Date; notAfter?: Date } = {}): Promise<TestKeyWithCertificate> {
  const { publicKey, privateKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
  const spki = new Uint8Array(publicKey.export({ format: 'der', type: 'spki' }));
  const now = Date.now();
  const certificate = await signCertificate({
    serial: randomSerial(),
    issuer: parseCertificate(ca.certificate).subject,
    subject: personSubjectToNameDer(options.subject ?? TEST_PERSON),
    spki,
    notBefore: options.notBefore ?? new Date(now - 86_400_000),
    notAfter: options.notAfter ?? new Date(now + 365 * 86_400_000),
    extensions: [
      ext.basicConstraints(false), ext.keyUsage('signing'),
      ext.subjectKeyIdentifier(keyIdentifier(readSpki(readOne(spki, TAG.SEQUENCE)).publicKeyBits)),
      ext.authorityKeyIdentifier(ca.keyId),
    ],
  }, ca.signer);
  return { certificate, publicKey, privateKey, spki };
}
