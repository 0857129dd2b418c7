import 'reflect-metadata';
import { generateKeyPair, webcrypto, type KeyObject } from 'node:crypto';
import { promisify } from 'node:util';
import { Name, Pkcs10CertificateRequestGenerator } from '@peculiar/x509';
import type { PersonSubject } from '@thk/contracts';

const EC_P256 = { name: 'ECDSA', namedCurve: 'P-256' } as const;
const ES256 = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' } as const;

export interface CloudKeyPair { privateKeyDer: Buffer; publicKeySpki: Buffer }

/** A fresh P-256 cloud key pair from node:crypto (async: the event loop keeps running). */
export async function generateCloudKeyPair(): Promise<CloudKeyPair> {
  const { privateKey, publicKey } = await promisify(generateKeyPair)('ec', { namedCurve: 'P-256' }) as { privateKey: KeyObject; publicKey: KeyObject };
  return {
    privateKeyDer: privateKey.export({ format: 'der', type: 'pkcs8' }),
    publicKeySpki: publicKey.export({ format: 'der', type: 'spki' }),
  };
}

/** The X.500 name of a person's subject, attribute by attribute (OIDs: X.520 and ETSI EN 319 412-1). */
export function subjectName(subject: PersonSubject): Name {
  const rdns: Array<Record<string, string[]>> = [{ '2.5.4.3': [subject.commonName] }];
  if (subject.surname) rdns.push({ '2.5.4.4': [subject.surname] });
  if (subject.givenName) rdns.push({ '2.5.4.42': [subject.givenName] });
  rdns.push({ '2.5.4.5': [subject.serialNumber] });
  if (subject.organization) rdns.push({ '2.5.4.10': [subject.organization] });
  if (subject.organizationIdentifier) rdns.push({ '2.5.4.97': [subject.organizationIdentifier] });
  if (subject.title) rdns.push({ '2.5.4.12': [subject.title] });
  rdns.push({ '2.5.4.6': [subject.country] });
  return new Name(rdns);
}

/** A PKCS#10 request signed by the cloud key (proof of possession for the CA). */
export async function buildCloudKeyCsr(keys: CloudKeyPair, subject: PersonSubject): Promise<Buffer> {
  const privateKey = await webcrypto.subtle.importKey('pkcs8', keys.privateKeyDer, EC_P256, false, ['sign']);
  const publicKey = await webcrypto.subtle.importKey('spki', keys.publicKeySpki, EC_P256, true, ['verify']);
  const csr = await Pkcs10CertificateRequestGenerator.create({
    name: subjectName(subject),
    keys: { privateKey, publicKey },
    signingAlgorithm: ES256,
  }, webcrypto as unknown as Crypto);
  return Buffer.from(csr.rawData);
}
