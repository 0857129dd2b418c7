import { createPrivateKey, generateKeyPairSync, randomBytes, sign, verify, type KeyObject } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { AppError, type Logger } from '@thk/core';
import {
  assembleSigned, buildTbsCertificate, bytesEqual, certificatePublicKey, derToPem, keyIdentifier, keyObjectSigner, nameToString, oid, parseCertificate,
  pemToDers, randomSerial, selfSignedCaCertificate, seq, signCrl, tlv, TAG, toHex, verifyCertificateSignature,
  type Bytes, type ParsedCertificate, type X509Signer, OID,
} from '@thk/pki';
import type { DataSource, EntityManager } from 'typeorm';
import { CaAuthorityEntity } from '../../registry/index.js';
import type { CertificateAuthority, CertificateRequest, CrlRequest, IssuedCertificate, IssuerInfo } from '../certificate-authority.js';
import { CertificateProfiles } from '../certificate-profiles.js';
import { openKey, sealKey } from './key-sealing.js';

export const AUTHORITY_ID = 'default';
const KEY_PURPOSE = `thk-ca-key:${AUTHORITY_ID}`;
/** Serialises first-start creation across replicas (any constant, unique to this use). */
const CREATE_LOCK = 0x7468_6b43;

export interface BuiltInCaOptions {
  kek: { id: string; key: Buffer };
  commonName: string;
  organization: string | null;
  validityDays: number;
  import: { certificateFile: string; keyFile: string; chainFile: string | null } | null;
  crlUrl: string;
  extraPolicyOids: readonly string[];
  /** A key kept elsewhere (PKCS#11): creates its key pair at first start, signs afterwards. */
  externalKey?: ExternalCaKey | null;
  clock: () => Date;
  logger: Logger;
}

/** A CA key held outside this process (a PKCS#11 token): the CA only ever asks it to sign. */
export interface ExternalCaKey {
  readonly storage: 'pkcs11';
  readonly label: string;
  /** Finds the key pair by label, or generates it (non-extractable, on the device); answers its SPKI. */
  ensureKeyPair(): Promise<Bytes>;
  signer(): X509Signer;
  close(): Promise<void>;
}

function caName(commonName: string, organization: string | null): Bytes {
  const attr = (type: string, value: string, tag: number) => tlv(TAG.SET, seq(oid(type), tlv(tag, Buffer.from(value, tag === TAG.UTF8_STRING ? 'utf8' : 'latin1'))));
  return seq(
    ...(organization ? [attr(OID.organizationName, organization, TAG.UTF8_STRING)] : []),
    attr(OID.commonName, commonName, TAG.UTF8_STRING),
    attr(OID.countryName, 'UA', TAG.PRINTABLE_STRING),
  );
}

/** Does the private key belong to the certificate? (A sign/verify round trip.) */
function keyMatches(privateKey: KeyObject, publicKey: KeyObject): boolean {
  const probe = randomBytes(32);
  try {
    return verify('sha256', probe, publicKey, sign('sha256', probe, privateKey));
  } catch {
    return false;
  }
}

/**
 * The built-in CA: an issuing key and certificate created (or imported) at first start and kept
 * in the `ca` database, the key sealed under the KEK (or kept in a PKCS#11 token). Certificates
 * are assembled from pre-encoded profile parts and signed in-process.
 */
export class BuiltInCertificateAuthority implements CertificateAuthority {
  readonly kind = 'built-in';
  private readonly profiles: CertificateProfiles;

  private constructor(readonly issuer: IssuerInfo, private readonly signer: X509Signer, private readonly external: ExternalCaKey | null, options: BuiltInCaOptions) {
    this.profiles = new CertificateProfiles({ crlUrl: options.crlUrl, extraPolicyOids: options.extraPolicyOids, issuerKeyId: issuer.keyId });
  }

  /** Loads the CA from the database, creating or importing it at first start. */
  static async open(dataSource: DataSource, options: BuiltInCaOptions): Promise<BuiltInCertificateAuthority> {
    const row = await dataSource.transaction(async (m) => {
      await m.query('SELECT pg_advisory_xact_lock($1)', [CREATE_LOCK]);
      const existing = await m.findOneBy(CaAuthorityEntity, { id: AUTHORITY_ID });
      if (existing && options.import) options.logger.warn('an issuing CA exists already: CA_IMPORT_* files are ignored');
      return existing ?? BuiltInCertificateAuthority.create(m, options);
    });
    const cert = parseCertificate(new Uint8Array(row.certificate));
    const publicKey = certificatePublicKey(cert);
    let signer: X509Signer;
    let external: ExternalCaKey | null = null;
    if (row.keyStorage === 'software') {
      if (options.externalKey) throw new AppError('config.invalid', 'the CA key is stored in the database, but a PKCS#11 key is configured');
      if (row.kekId !== options.kek.id) throw new AppError('config.invalid', `the CA key was sealed under KEK "${row.kekId}", but the configured KEK is "${options.kek.id}"`);
      const pkcs8 = openKey(row.sealedKey!, options.kek, KEY_PURPOSE);
      const privateKey = createPrivateKey({ key: pkcs8, format: 'der', type: 'pkcs8' });
      pkcs8.fill(0);
      if (!keyMatches(privateKey, publicKey)) throw new AppError('config.invalid', 'the stored CA key does not match the CA certificate');
      signer = keyObjectSigner(privateKey);
    } else {
      if (!options.externalKey || options.externalKey.label !== row.pkcs11KeyLabel) throw new AppError('config.invalid', `the CA key is in a PKCS#11 token under label "${row.pkcs11KeyLabel}": configure CA_PKCS11_*`);
      external = options.externalKey;
      const spki = await external.ensureKeyPair();
      if (!bytesEqual(spki, cert.spki)) throw new AppError('config.invalid', 'the PKCS#11 CA key does not match the CA certificate');
      signer = external.signer();
    }
    const issuer: IssuerInfo = {
      certificate: Uint8Array.from(cert.der),
      chainPem: row.chainPem,
      subject: Uint8Array.from(cert.subject),
      subjectString: nameToString(cert.subject),
      publicKey,
      keyId: keyIdentifier(cert.publicKeyBits),
      notBefore: cert.notBefore,
      notAfter: cert.notAfter,
    };
    options.logger.info({ subject: issuer.subjectString, notAfter: issuer.notAfter.toISOString(), keyStorage: row.keyStorage }, 'issuing CA loaded');
    return new BuiltInCertificateAuthority(issuer, signer, external, options);
  }

  private static async create(m: EntityManager, options: BuiltInCaOptions): Promise<CaAuthorityEntity> {
    const now = options.clock();
    const row = new CaAuthorityEntity();
    row.id = AUTHORITY_ID;
    row.crlNumber = '0';
    row.createdAt = now;
    row.pkcs11KeyLabel = null;
    row.sealedKey = null;
    row.kekId = null;
    if (options.import) {
      const certPem = await readFile(options.import.certificateFile, 'utf8');
      const [der] = pemToDers(certPem);
      if (!der) throw new AppError('config.invalid', `${options.import.certificateFile} holds no PEM certificate`);
      const cert = parseCertificate(der);
      const privateKey = createPrivateKey(await readFile(options.import.keyFile, 'utf8'));
      if (!keyMatches(privateKey, certificatePublicKey(cert))) throw new AppError('config.invalid', 'the imported CA key does not match the imported certificate');
      keyObjectSigner(privateKey); // refuses key types we cannot sign with
      const chainPem = options.import.chainFile ? await readFile(options.import.chainFile, 'utf8') : '';
      checkChain(cert, chainPem);
      row.certificate = Buffer.from(der);
      row.chainPem = derToPem(der) + pemToDers(chainPem).map((d) => derToPem(d)).join('');
      row.keyStorage = 'software';
      row.sealedKey = sealKey(privateKey.export({ format: 'der', type: 'pkcs8' }), options.kek, KEY_PURPOSE);
      row.kekId = options.kek.id;
      options.logger.warn({ subject: nameToString(cert.subject) }, 'issuing CA imported');
    } else {
      let spki: Bytes;
      let signer: X509Signer;
      if (options.externalKey) {
        spki = await options.externalKey.ensureKeyPair();
        signer = options.externalKey.signer();
        row.keyStorage = 'pkcs11';
        row.pkcs11KeyLabel = options.externalKey.label;
      } else {
        const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
        spki = new Uint8Array(publicKey.export({ format: 'der', type: 'spki' }));
        signer = keyObjectSigner(privateKey);
        row.keyStorage = 'software';
        row.sealedKey = sealKey(privateKey.export({ format: 'der', type: 'pkcs8' }), options.kek, KEY_PURPOSE);
        row.kekId = options.kek.id;
      }
      const der = await selfSignedCaCertificate({
        subject: caName(options.commonName, options.organization),
        spki,
        // A day back, so certificates of development users made "from yesterday" nest inside it.
        notBefore: new Date(now.getTime() - 86_400_000),
        notAfter: new Date(now.getTime() + options.validityDays * 86_400_000),
        signer,
      });
      row.certificate = Buffer.from(der);
      row.chainPem = derToPem(der);
      options.logger.warn({ subject: options.commonName, validityDays: options.validityDays, keyStorage: row.keyStorage }, 'created a new self-signed issuing CA (first start)');
    }
    await m.insert(CaAuthorityEntity, row);
    return row;
  }

  async issue(request: CertificateRequest): Promise<IssuedCertificate> {
    const notBefore = new Date(Math.floor(request.notBefore.getTime() / 1000) * 1000);
    const notAfter = new Date(Math.floor(request.notAfter.getTime() / 1000) * 1000);
    const serial = randomSerial();
    const tbs = buildTbsCertificate({
      serial,
      signatureAlgorithm: this.signer.algorithm,
      issuer: this.issuer.subject,
      notBefore,
      notAfter,
      subject: request.subject,
      spki: request.spki,
      extensions: this.profiles.extensions(request.profile, request.publicKeyBits, request.qcSscd),
    });
    const der = assembleSigned(tbs, this.signer.algorithm, await this.signer.sign(tbs));
    return { der, serialNumber: toHex(serial), notBefore, notAfter };
  }

  signCrl(request: CrlRequest): Promise<Bytes> {
    return signCrl({ ...request, issuer: this.issuer.subject, issuerKeyId: this.issuer.keyId }, this.signer);
  }

  async close(): Promise<void> {
    await this.external?.close();
  }
}

/** An imported CA's chain must lead from its certificate, issuer by issuer, each signature verifying. */
function checkChain(cert: ParsedCertificate, chainPem: string): void {
  let child = cert;
  for (const der of pemToDers(chainPem)) {
    const parent = parseCertificate(der);
    if (!bytesEqual(child.issuer, parent.subject) || !verifyCertificateSignature(child, certificatePublicKey(parent))) {
      throw new AppError('config.invalid', `the CA chain is broken at ${nameToString(parent.subject)}`);
    }
    child = parent;
  }
}
