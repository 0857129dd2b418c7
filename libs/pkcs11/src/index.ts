export { Pkcs11Error, PinStateRefusal, isRetryableCkr } from './pkcs11.error.js';
export { Pkcs11Module, type Pkcs11ModuleOptions, type SlotDescription } from './pkcs11.module.js';
export { TokenSession, type GeneratedKeyPair, type LoginOptions, type TokenObject, type UserType } from './token-session.js';
export {
  TOKEN_KEY_ALGORITHMS, algorithmsFromMechanisms, decodeTokenFlags, mechanismNames, tokenDisplayName,
  type TokenDescription, type TokenFlags, type TokenKeyAlgorithm,
} from './token.js';
export { P256_EC_PARAMS, SECURE_PRIVATE_KEY_ATTRIBUTES, keyPairTemplates, type KeyPairRequest } from './key-templates.js';
export { ATTRIBUTE_KINDS, type AttributeName, type AttributeValue, type Attributes, type ObjectClass, type ObjectQuery } from './attributes.js';
export { p256PublicKey, p256Spki, rsaPublicKey, spkiDer, unwrapEcPoint } from './public-key.js';
export { createTokenCsr, type TokenCsrRequest } from './token-csr.js';
export type { Handle } from './pkcs11js.js';
/** Test support for SoftHSM2 tokens (flags SoftHSM never sets by itself). */
export { setSoftHsmTokenFlags, type SettableTokenFlag } from './testing/softhsm-token-flags.js';
