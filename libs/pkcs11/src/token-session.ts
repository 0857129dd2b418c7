import { createHash, type KeyObject } from 'node:crypto';
import { parseCertificate, unsignedInteger, type ParsedCertificate } from '@thk/pki';
import { decodeAttribute, objectClassName, queryTemplate, type AttributeName, type Attributes, type ObjectClass, type ObjectQuery } from './attributes.js';
import { keyPairTemplates, type KeyPairRequest } from './key-templates.js';
import { PinStateRefusal, Pkcs11Error } from './pkcs11.error.js';
import type { Pkcs11Module } from './pkcs11.module.js';
import { ck, type Handle } from './pkcs11js.js';
import { p256PublicKey, p256Spki, rsaPublicKey, spkiDer } from './public-key.js';
import { decodeTokenFlags, type TokenFlags, type TokenKeyAlgorithm } from './token.js';

export type UserType = 'user' | 'so';

export interface LoginOptions {
  /** Whose PIN: the user's (default) or the security officer's. */
  as?: UserType;
  /**
   * Send the PIN even when the token says the next wrong one locks it. Off by default: the PIN came
   * from a person who is not at the token, and some tokens destroy their keys when locked.
   */
  allowFinalTry?: boolean;
}

export interface GeneratedKeyPair {
  algorithm: TokenKeyAlgorithm;
  id: Buffer;
  label: string;
  privateKey: Handle;
  publicKey: Handle;
}

export interface TokenObject {
  handle: Handle;
  class: ObjectClass | 'other';
  id: Buffer;
  label: string;
}

/** `DigestInfo` prefix of SHA-256 for `CKM_RSA_PKCS` on tokens that cannot hash themselves. */
const SHA256_DIGEST_INFO = Buffer.from('3031300d060960864801650304020105000420', 'hex');

/**
 * One session with one token. Methods map closely to PKCS#11 functions; each failure is a
 * `Pkcs11Error`. A session is not safe for concurrent use: callers serialise work per token.
 */
export class TokenSession {
  private closed = false;
  private mechanismCache: Set<number> | undefined;

  constructor(
    private readonly module: Pkcs11Module,
    private readonly slot: Handle,
    readonly slotId: string,
    readonly handle: Handle,
    private readonly onClose: () => void,
  ) {}

  /** The token's flags now (`C_GetTokenInfo`): PIN counters change with every wrong PIN. */
  flags(): TokenFlags {
    return decodeTokenFlags(this.module.call('C_GetTokenInfo', (lib) => lib.C_GetTokenInfo(this.slot)).flags);
  }

  /**
   * Logs in once. Reads the PIN flags first and refuses, without calling `C_Login`, when the PIN is
   * locked or (unless allowed) on its final try. A wrong PIN surfaces as `CKR_PIN_INCORRECT` and is
   * never retried here.
   */
  login(pin: string, options: LoginOptions = {}): void {
    const as = options.as ?? 'user';
    const flags = this.flags();
    const locked = as === 'so' ? flags.soPinLocked : flags.userPinLocked;
    const finalTry = as === 'so' ? flags.soPinFinalTry : flags.userPinFinalTry;
    if (locked) throw new PinStateRefusal('pin-locked', as);
    if (finalTry && !options.allowFinalTry) throw new PinStateRefusal('pin-final-try', as);
    const userType = as === 'so' ? ck('CKU_SO') : ck('CKU_USER');
    this.module.call('C_Login', (lib) => lib.C_Login(this.handle, userType, pin));
  }

  logout(): void {
    try {
      this.module.call('C_Logout', (lib) => lib.C_Logout(this.handle));
    } catch (error) {
      if (!Pkcs11Error.is(error, 'CKR_USER_NOT_LOGGED_IN')) throw error;
    }
  }

  /** Sets the user PIN of a token whose user PIN is not initialised (needs an SO login first). */
  initUserPin(newPin: string): void {
    this.module.call('C_InitPIN', (lib) => lib.C_InitPIN(this.handle, newPin));
  }

  /** Changes the PIN of whoever is logged in (the user PIN in a public or user session). */
  setPin(oldPin: string, newPin: string): void {
    this.module.call('C_SetPIN', (lib) => lib.C_SetPIN(this.handle, oldPin, newPin));
  }

  mechanisms(): Set<number> {
    this.mechanismCache ??= new Set(this.module.call('C_GetMechanismList', (lib) => lib.C_GetMechanismList(this.slot)));
    return this.mechanismCache;
  }

  /**
   * Generates a key pair with the secure template (token, private, sensitive, never extractable,
   * sign only). The asynchronous call keeps the event loop free: RSA-2048 takes up to half a second.
   */
  async generateKeyPair(request: KeyPairRequest): Promise<GeneratedKeyPair> {
    const t = keyPairTemplates(request);
    if (!this.mechanisms().has(t.mechanism)) {
      throw new Pkcs11Error('CKR_MECHANISM_INVALID', 'C_GenerateKeyPair', { message: `the token cannot generate ${request.algorithm} keys` });
    }
    const pair = await this.module.callAsync('C_GenerateKeyPair', (lib) => lib.C_GenerateKeyPairAsync(this.handle, { mechanism: t.mechanism }, t.publicKey, t.privateKey));
    return { algorithm: request.algorithm, id: request.id, label: request.label, privateKey: pair.privateKey, publicKey: pair.publicKey };
  }

  /** Reads attributes of an object. A sensitive one (the private key's `CKA_VALUE`) fails with `CKR_ATTRIBUTE_SENSITIVE`. */
  getAttributes<N extends AttributeName>(object: Handle, names: readonly N[]): Attributes<N> {
    const result = this.module.call('C_GetAttributeValue', (lib) => lib.C_GetAttributeValue(this.handle, object, names.map((n) => ({ type: ck(n) }))));
    const out = {} as Attributes<N>;
    names.forEach((name, i) => {
      const raw = result[i]?.value;
      if (!raw) throw new Pkcs11Error('CKR_ATTRIBUTE_TYPE_INVALID', 'C_GetAttributeValue', { message: `the token returned no ${name}` });
      (out as Record<string, unknown>)[name] = decodeAttribute(name, raw);
    });
    return out;
  }

  /**
   * The public key of a public-key object (from `CKA_EC_POINT`, or modulus and exponent): its
   * SubjectPublicKeyInfo, and `key`, the Node KeyObject, built only when first read.
   */
  readPublicKey(publicKey: Handle): { algorithm: TokenKeyAlgorithm; readonly key: KeyObject; spki: Buffer } {
    const { CKA_KEY_TYPE } = this.getAttributes(publicKey, ['CKA_KEY_TYPE']);
    if (CKA_KEY_TYPE === ck('CKK_EC')) {
      const { CKA_EC_PARAMS, CKA_EC_POINT } = this.getAttributes(publicKey, ['CKA_EC_PARAMS', 'CKA_EC_POINT']);
      if (CKA_EC_PARAMS.toString('hex') !== '06082a8648ce3d030107') {
        throw new Pkcs11Error('CKR_CURVE_NOT_SUPPORTED', 'C_GetAttributeValue', { message: 'only P-256 EC keys are supported' });
      }
      let key: KeyObject | undefined;
      return { algorithm: 'EC-P256', spki: p256Spki(CKA_EC_POINT), get key() { return (key ??= p256PublicKey(CKA_EC_POINT)); } };
    }
    if (CKA_KEY_TYPE === ck('CKK_RSA')) {
      const { CKA_MODULUS, CKA_PUBLIC_EXPONENT } = this.getAttributes(publicKey, ['CKA_MODULUS', 'CKA_PUBLIC_EXPONENT']);
      const key = rsaPublicKey(CKA_MODULUS, CKA_PUBLIC_EXPONENT);
      return { algorithm: 'RSA-2048', key, spki: spkiDer(key) };
    }
    throw new Pkcs11Error('CKR_KEY_TYPE_INCONSISTENT', 'C_GetAttributeValue', { message: `unsupported key type ${CKA_KEY_TYPE}` });
  }

  /**
   * Signs `data` with SHA-256: ECDSA returns raw r‖s (64 bytes for P-256), RSA a PKCS#1 v1.5
   * signature. Hashes on the host when the token offers only the raw mechanism (SoftHSM lacks
   * `CKM_ECDSA_SHA256`): the result is the same.
   */
  async sign(privateKey: Handle, algorithm: TokenKeyAlgorithm, data: Buffer): Promise<Buffer> {
    const mechs = this.mechanisms();
    const digest = () => createHash('sha256').update(data).digest();
    let mechanism: number;
    let input: Buffer;
    let size: number;
    if (algorithm === 'EC-P256') {
      size = 132;
      if (mechs.has(ck('CKM_ECDSA'))) { mechanism = ck('CKM_ECDSA'); input = digest(); }
      else if (mechs.has(ck('CKM_ECDSA_SHA256'))) { mechanism = ck('CKM_ECDSA_SHA256'); input = data; }
      else throw new Pkcs11Error('CKR_MECHANISM_INVALID', 'C_SignInit', { message: 'the token offers no ECDSA mechanism' });
    } else {
      size = 1_024;
      if (mechs.has(ck('CKM_SHA256_RSA_PKCS'))) { mechanism = ck('CKM_SHA256_RSA_PKCS'); input = data; }
      else if (mechs.has(ck('CKM_RSA_PKCS'))) { mechanism = ck('CKM_RSA_PKCS'); input = Buffer.concat([SHA256_DIGEST_INFO, digest()]); }
      else throw new Pkcs11Error('CKR_MECHANISM_INVALID', 'C_SignInit', { message: 'the token offers no RSA PKCS#1 v1.5 mechanism' });
    }
    this.module.call('C_SignInit', (lib) => lib.C_SignInit(this.handle, { mechanism }, privateKey));
    return this.module.callAsync('C_Sign', (lib) => lib.C_SignAsync(this.handle, input, Buffer.alloc(size)));
  }

  /** Finds objects by class, `CKA_ID` and/or label (private objects only after a user login). */
  findObjects(query: ObjectQuery): Handle[] {
    const template = queryTemplate(query);
    this.module.call('C_FindObjectsInit', (lib) => lib.C_FindObjectsInit(this.handle, template));
    const found: Handle[] = [];
    try {
      for (;;) {
        const batch = this.module.call('C_FindObjects', (lib) => lib.C_FindObjects(this.handle, 64));
        if (batch.length === 0) break;
        found.push(...batch);
      }
    } finally {
      this.module.call('C_FindObjectsFinal', (lib) => lib.C_FindObjectsFinal(this.handle));
    }
    return found;
  }

  /** The objects under one `CKA_ID`, with their class and label. */
  objectsWithId(id: Buffer): TokenObject[] {
    return this.findObjects({ id }).map((handle) => this.describeObject(handle));
  }

  /** What the token says an object handle names now (`CKR_OBJECT_HANDLE_INVALID` for one it no longer knows). */
  describeObject(handle: Handle): TokenObject {
    const a = this.getAttributes(handle, ['CKA_CLASS', 'CKA_ID', 'CKA_LABEL']);
    return { handle, class: objectClassName(a.CKA_CLASS), id: a.CKA_ID, label: a.CKA_LABEL };
  }

  destroyObject(object: Handle): void {
    this.module.call('C_DestroyObject', (lib) => lib.C_DestroyObject(this.handle, object));
  }

  /**
   * Writes an X.509 certificate as a public token object under the key's `CKA_ID` and label, with
   * `CKA_SUBJECT`, `CKA_ISSUER` and `CKA_SERIAL_NUMBER` taken from the certificate itself.
   */
  createCertificate(options: { id: Buffer; label: string; der: Buffer }): Handle {
    let cert: ParsedCertificate;
    try {
      // libs/pki's strict DER reader: the three fields come out as the certificate's own bytes, at a
      // tenth of the cost of an asn1js parse and re-serialisation of the whole certificate.
      cert = parseCertificate(options.der);
    } catch (error) {
      throw new Pkcs11Error('CKR_ARGUMENTS_BAD', 'C_CreateObject', { message: 'the certificate is not DER X.509', cause: error });
    }
    // The serial's DER INTEGER as in the certificate (the parser refuses a non-minimal one, so re-encoding the magnitude gives the same bytes).
    const magnitude = Buffer.from(cert.serialNumber.length % 2 ? `0${cert.serialNumber}` : cert.serialNumber, 'hex');
    const serialDer = Buffer.from(unsignedInteger(magnitude));
    const template = [
      { type: ck('CKA_CLASS'), value: ck('CKO_CERTIFICATE') },
      { type: ck('CKA_CERTIFICATE_TYPE'), value: ck('CKC_X_509') },
      { type: ck('CKA_TOKEN'), value: true },
      { type: ck('CKA_PRIVATE'), value: false },
      { type: ck('CKA_ID'), value: options.id },
      { type: ck('CKA_LABEL'), value: options.label },
      { type: ck('CKA_SUBJECT'), value: Buffer.from(cert.subject) },
      { type: ck('CKA_ISSUER'), value: Buffer.from(cert.issuer) },
      { type: ck('CKA_SERIAL_NUMBER'), value: serialDer },
      { type: ck('CKA_VALUE'), value: options.der },
    ];
    return this.module.call('C_CreateObject', (lib) => lib.C_CreateObject(this.handle, template));
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    try {
      this.module.call('C_CloseSession', (lib) => lib.C_CloseSession(this.handle));
    } catch {
      // The token may be gone already; its sessions went with it.
    } finally {
      this.onClose();
    }
  }
}
