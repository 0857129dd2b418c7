import type { JsonNameParams } from '@peculiar/x509';
import type { PersonSubject } from '@thk/contracts';

const utf8 = (v: string) => [{ utf8String: v }];
const printable = (v: string) => [{ printableString: v }];

/**
 * The CSR subject of a qualified certificate for a natural person, in the order Ukrainian QTSPs
 * use: O, organizationIdentifier, title, CN, SN, G, serialNumber (РНОКПП), C. Country and
 * serialNumber are PrintableString (X.520); the rest UTF8String (Cyrillic names).
 */
export function personSubjectName(s: PersonSubject): JsonNameParams {
  const rdns: JsonNameParams = [];
  if (s.organization) rdns.push({ '2.5.4.10': utf8(s.organization) });
  if (s.organizationIdentifier) rdns.push({ '2.5.4.97': utf8(s.organizationIdentifier) });
  if (s.title) rdns.push({ '2.5.4.12': utf8(s.title) });
  rdns.push({ '2.5.4.3': utf8(s.commonName) });
  if (s.surname) rdns.push({ '2.5.4.4': utf8(s.surname) });
  if (s.givenName) rdns.push({ '2.5.4.42': utf8(s.givenName) });
  rdns.push({ '2.5.4.5': printable(s.serialNumber) });
  rdns.push({ '2.5.4.6': printable(s.country) });
  return rdns;
}
