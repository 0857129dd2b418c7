import 'reflect-metadata';
import { X509Certificate } from '@peculiar/x509';
import type { CertificateSummary, PersonSubject } from '@thk/contracts';
import { AppError } from '@thk/core';

/** Serial numbers as lower-case hex without leading zeros: the one form this service stores and compares. */
export function normalizeSerial(serial: string): string {
  const hex = serial.toLowerCase().replace(/^0+(?=.)/, '');
  if (!/^[0-9a-f]{1,64}$/.test(hex)) throw new AppError('validation-failed', 'certificate serial number is not hex');
  return hex;
}

const OID = {
  commonName: '2.5.4.3',
  surname: '2.5.4.4',
  serialNumber: '2.5.4.5',
  country: '2.5.4.6',
  organization: '2.5.4.10',
  title: '2.5.4.12',
  givenName: '2.5.4.42',
  organizationIdentifier: '2.5.4.97',
} as const;

export interface ParsedCertificate {
  summary: CertificateSummary;
  subject: PersonSubject;
  der: Buffer;
}

function toArrayBuffer(bytes: Uint8Array): ArrayBuffer {
  return bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer;
}

/** Reads what the key list and the authorization need from a DER certificate. */
export function parseCertificate(der: Uint8Array): ParsedCertificate {
  let cert: X509Certificate;
  try {
    cert = new X509Certificate(toArrayBuffer(der));
  } catch (error) {
    throw new AppError('certificate-invalid', 'certificate is not valid DER', { cause: error });
  }
  const name = cert.subjectName;
  const field = (oid: string): string | null => name.getField(oid)[0] ?? null;
  const commonName = field(OID.commonName);
  const serialNumber = field(OID.serialNumber);
  if (!commonName || !serialNumber) throw new AppError('certificate-invalid', 'certificate subject lacks commonName or serialNumber');
  return {
    der: Buffer.from(der),
    summary: {
      serialNumber: normalizeSerial(cert.serialNumber),
      subject: cert.subject,
      issuer: cert.issuer,
      notBefore: cert.notBefore.toISOString(),
      notAfter: cert.notAfter.toISOString(),
    },
    subject: {
      commonName,
      surname: field(OID.surname),
      givenName: field(OID.givenName),
      serialNumber,
      organization: field(OID.organization),
      organizationIdentifier: field(OID.organizationIdentifier),
      title: field(OID.title),
      country: 'UA',
    },
  };
}

/**
 * The subject of a natural person's qualified certificate (ДСТУ practice): commonName is the full
 * name, surname its first word, givenName the rest (name and patronymic), serialNumber `TINUA-<РНОКПП>`;
 * an organisation adds O and organizationIdentifier `NTRUA-<ЄДРПОУ>`, the position goes to title.
 */
export function personSubjectOf(person: { fullName: string; rnokpp: string; organization: string | null; edrpou: string | null; position: string | null }): PersonSubject {
  const words = person.fullName.trim().split(/\s+/);
  return {
    commonName: person.fullName.trim(),
    surname: words.length > 1 ? words[0]! : null,
    givenName: words.length > 1 ? words.slice(1).join(' ') : null,
    serialNumber: `TINUA-${person.rnokpp}`,
    organization: person.organization,
    organizationIdentifier: person.organization && person.edrpou ? `NTRUA-${person.edrpou}` : null,
    title: person.position,
    country: 'UA',
  };
}
