import 'reflect-metadata';
import { Name } from '@peculiar/x509';
import type { PersonSubject } from '@thk/contracts';
import { oid, seq, tlv, TAG } from '../der.js';
import type { Bytes } from '../der.js';
import { EXTRA_NAME_TYPES, OID } from '../oids.js';
import { PkiError } from '../pki-error.js';

const PRINTABLE = /^[A-Za-z0-9 '()+,\-./:=?]*$/;

function attribute(type: string, value: string, printable: boolean): Bytes {
  if (printable && !PRINTABLE.test(value)) throw new PkiError('pki.invalid', `attribute ${type} must be a PrintableString`);
  const encoded = printable ? tlv(TAG.PRINTABLE_STRING, Buffer.from(value, 'latin1')) : tlv(TAG.UTF8_STRING, Buffer.from(value, 'utf8'));
  return tlv(TAG.SET, seq(oid(type), encoded));
}

/**
 * The X.500 Name of a qualified certificate for a natural person, in the order Ukrainian qualified
 * certificates use: O, organizationIdentifier, title, CN, SN (surname), G (given name),
 * serialNumber (РНОКПП, e.g. `TINUA-1111111111`), C. Country and serialNumber are PrintableString,
 * the rest UTF8String. Null and empty fields are left out.
 */
export function personSubjectToNameDer(subject: PersonSubject): Bytes {
  const rdns: Uint8Array[] = [];
  const add = (type: string, value: string | null, printable = false) => {
    if (value !== null && value.trim() !== '') rdns.push(attribute(type, value, printable));
  };
  add(OID.organizationName, subject.organization);
  add(OID.organizationIdentifier, subject.organizationIdentifier);
  add(OID.title, subject.title);
  add(OID.commonName, subject.commonName);
  add(OID.surname, subject.surname);
  add(OID.givenName, subject.givenName);
  add(OID.serialNumber, subject.serialNumber, true);
  add(OID.countryName, subject.country, true);
  return seq(...rdns);
}

/** An @peculiar/x509 Name that knows the short names we print (serialNumber, organizationIdentifier). */
export function toX509Name(nameDer: Uint8Array): Name {
  return new Name(Uint8Array.from(nameDer), EXTRA_NAME_TYPES);
}

/** A Name as one line, attributes in certificate order: `O=…, CN=…, SN=…, G=…, serialNumber=…, C=UA`. */
export function nameToString(nameDer: Uint8Array): string {
  try {
    return toX509Name(nameDer).toString();
  } catch (error) {
    throw new PkiError('der.malformed', 'the name cannot be parsed', { cause: error });
  }
}
