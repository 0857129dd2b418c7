import { ck, type NativeTemplate } from './pkcs11js.js';
import type { TokenKeyAlgorithm } from './token.js';

/** DER of the OID prime256v1 / secp256r1 (1.2.840.10045.3.1.7), the value of `CKA_EC_PARAMS`. */
export const P256_EC_PARAMS = Buffer.from('06082a8648ce3d030107', 'hex');
export const RSA_PUBLIC_EXPONENT = Buffer.from([0x01, 0x00, 0x01]);

export interface KeyPairRequest {
  algorithm: TokenKeyAlgorithm;
  /** `CKA_ID` shared by the private key, the public key and, later, the certificate. */
  id: Buffer;
  label: string;
}

export interface KeyPairTemplates {
  mechanism: number;
  publicKey: NativeTemplate;
  privateKey: NativeTemplate;
}

/**
 * The secure key template: a token object, private and sensitive, never extractable, usable only
 * to sign. Every other usage is set to false explicitly, because tokens (SoftHSM among them)
 * default unspecified usages to true.
 */
export function keyPairTemplates(request: KeyPairRequest): KeyPairTemplates {
  const common = [
    { type: ck('CKA_TOKEN'), value: true },
    { type: ck('CKA_ID'), value: request.id },
    { type: ck('CKA_LABEL'), value: request.label },
  ];
  const publicUsages = [
    { type: ck('CKA_VERIFY'), value: true },
    { type: ck('CKA_ENCRYPT'), value: false },
    { type: ck('CKA_WRAP'), value: false },
    { type: ck('CKA_VERIFY_RECOVER'), value: false },
    { type: ck('CKA_DERIVE'), value: false },
  ];
  const privateUsages = [
    { type: ck('CKA_PRIVATE'), value: true },
    { type: ck('CKA_SENSITIVE'), value: true },
    { type: ck('CKA_EXTRACTABLE'), value: false },
    { type: ck('CKA_SIGN'), value: true },
    { type: ck('CKA_DECRYPT'), value: false },
    { type: ck('CKA_UNWRAP'), value: false },
    { type: ck('CKA_SIGN_RECOVER'), value: false },
    { type: ck('CKA_DERIVE'), value: false },
  ];
  switch (request.algorithm) {
    case 'EC-P256':
      return {
        mechanism: ck('CKM_EC_KEY_PAIR_GEN'),
        publicKey: [
          { type: ck('CKA_CLASS'), value: ck('CKO_PUBLIC_KEY') }, { type: ck('CKA_KEY_TYPE'), value: ck('CKK_EC') },
          ...common, { type: ck('CKA_PRIVATE'), value: false }, { type: ck('CKA_EC_PARAMS'), value: P256_EC_PARAMS }, ...publicUsages,
        ],
        privateKey: [
          { type: ck('CKA_CLASS'), value: ck('CKO_PRIVATE_KEY') }, { type: ck('CKA_KEY_TYPE'), value: ck('CKK_EC') },
          ...common, ...privateUsages,
        ],
      };
    case 'RSA-2048':
      return {
        mechanism: ck('CKM_RSA_PKCS_KEY_PAIR_GEN'),
        publicKey: [
          { type: ck('CKA_CLASS'), value: ck('CKO_PUBLIC_KEY') }, { type: ck('CKA_KEY_TYPE'), value: ck('CKK_RSA') },
          ...common, { type: ck('CKA_PRIVATE'), value: false },
          { type: ck('CKA_MODULUS_BITS'), value: 2048 }, { type: ck('CKA_PUBLIC_EXPONENT'), value: RSA_PUBLIC_EXPONENT }, ...publicUsages,
        ],
        privateKey: [
          { type: ck('CKA_CLASS'), value: ck('CKO_PRIVATE_KEY') }, { type: ck('CKA_KEY_TYPE'), value: ck('CKK_RSA') },
          ...common, ...privateUsages,
        ],
      };
    default: {
      const never: never = request.algorithm;
      throw new TypeError(`unknown algorithm ${String(never)}`);
    }
  }
}

/** What the private key must read back as after generation, or the token did not honour the template. */
export const SECURE_PRIVATE_KEY_ATTRIBUTES = {
  CKA_TOKEN: true, CKA_PRIVATE: true, CKA_SENSITIVE: true, CKA_EXTRACTABLE: false,
  CKA_SIGN: true, CKA_DECRYPT: false, CKA_UNWRAP: false, CKA_SIGN_RECOVER: false, CKA_DERIVE: false,
} as const;
