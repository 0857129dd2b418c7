import { ck, ckmName } from './pkcs11js.js';

/** The key algorithms this system generates on tokens. */
export type TokenKeyAlgorithm = 'EC-P256' | 'RSA-2048';
export const TOKEN_KEY_ALGORITHMS: readonly TokenKeyAlgorithm[] = ['EC-P256', 'RSA-2048'];

export interface TokenFlags {
  /** The raw `CK_TOKEN_INFO.flags`. */
  raw: number;
  initialized: boolean;
  userPinInitialized: boolean;
  loginRequired: boolean;
  writeProtected: boolean;
  protectedAuthenticationPath: boolean;
  userPinCountLow: boolean;
  userPinFinalTry: boolean;
  userPinLocked: boolean;
  userPinToBeChanged: boolean;
  soPinCountLow: boolean;
  soPinFinalTry: boolean;
  soPinLocked: boolean;
}

export function decodeTokenFlags(raw: number): TokenFlags {
  const has = (name: string) => (raw & ck(name)) !== 0;
  return {
    raw,
    initialized: has('CKF_TOKEN_INITIALIZED'),
    userPinInitialized: has('CKF_USER_PIN_INITIALIZED'),
    loginRequired: has('CKF_LOGIN_REQUIRED'),
    writeProtected: has('CKF_WRITE_PROTECTED'),
    protectedAuthenticationPath: has('CKF_PROTECTED_AUTHENTICATION_PATH'),
    userPinCountLow: has('CKF_USER_PIN_COUNT_LOW'),
    userPinFinalTry: has('CKF_USER_PIN_FINAL_TRY'),
    userPinLocked: has('CKF_USER_PIN_LOCKED'),
    userPinToBeChanged: has('CKF_USER_PIN_TO_BE_CHANGED'),
    soPinCountLow: has('CKF_SO_PIN_COUNT_LOW'),
    soPinFinalTry: has('CKF_SO_PIN_FINAL_TRY'),
    soPinLocked: has('CKF_SO_PIN_LOCKED'),
  };
}

/** What one slot's token says about itself (`C_GetTokenInfo` + `C_GetMechanismList`), strings trimmed. */
export interface TokenDescription {
  /** The slot id as a decimal string (handles are 8-byte buffers in pkcs11js). */
  slotId: string;
  /** The PKCS#11 module path this token was found through. */
  modulePath: string;
  serial: string;
  label: string;
  model: string;
  manufacturer: string;
  flags: TokenFlags;
  minPinLength: number;
  maxPinLength: number;
  mechanisms: number[];
  /** Which of our algorithms the token can generate and sign with. */
  algorithms: TokenKeyAlgorithm[];
}

/** How a person at the workstation recognises a token: `<serial>(<model or label>)`. */
export function tokenDisplayName(token: Pick<TokenDescription, 'serial' | 'model' | 'label'>): string {
  return `${token.serial}(${token.model || token.label})`;
}

export interface MechanismRange { minKeySize: number; maxKeySize: number }

/**
 * The algorithms a mechanism list allows. EC-P256 needs EC key generation and ECDSA (with or without
 * hashing on the token); RSA-2048 needs RSA key generation accepting 2048-bit keys and PKCS#1 v1.5 signing.
 */
export function algorithmsFromMechanisms(mechanisms: readonly number[], rangeOf?: (mechanism: number) => MechanismRange | undefined): TokenKeyAlgorithm[] {
  const set = new Set(mechanisms);
  const fits = (mechanism: number, bits: number) => {
    const range = rangeOf?.(mechanism);
    // Key sizes of EC mechanisms are in bits of the field; RSA ones in bits of the modulus.
    return !range || range.maxKeySize === 0 || (range.minKeySize <= bits && bits <= range.maxKeySize);
  };
  const out: TokenKeyAlgorithm[] = [];
  const ecGen = ck('CKM_EC_KEY_PAIR_GEN');
  if (set.has(ecGen) && fits(ecGen, 256) && (set.has(ck('CKM_ECDSA')) || set.has(ck('CKM_ECDSA_SHA256')))) out.push('EC-P256');
  const rsaGen = ck('CKM_RSA_PKCS_KEY_PAIR_GEN');
  if (set.has(rsaGen) && fits(rsaGen, 2048) && (set.has(ck('CKM_RSA_PKCS')) || set.has(ck('CKM_SHA256_RSA_PKCS')))) out.push('RSA-2048');
  return out;
}

export function mechanismNames(mechanisms: readonly number[]): string[] {
  return mechanisms.map(ckmName);
}
