import { ck, type NativeTemplate } from './pkcs11js.js';

type Kind = 'bool' | 'ulong' | 'bytes' | 'string';

/** The attributes this layer reads and writes, with how their bytes decode. */
export const ATTRIBUTE_KINDS = {
  CKA_CLASS: 'ulong', CKA_KEY_TYPE: 'ulong', CKA_CERTIFICATE_TYPE: 'ulong', CKA_MODULUS_BITS: 'ulong',
  CKA_TOKEN: 'bool', CKA_PRIVATE: 'bool', CKA_MODIFIABLE: 'bool', CKA_LOCAL: 'bool',
  CKA_SENSITIVE: 'bool', CKA_EXTRACTABLE: 'bool', CKA_ALWAYS_SENSITIVE: 'bool', CKA_NEVER_EXTRACTABLE: 'bool',
  CKA_ALWAYS_AUTHENTICATE: 'bool',
  CKA_SIGN: 'bool', CKA_VERIFY: 'bool', CKA_ENCRYPT: 'bool', CKA_DECRYPT: 'bool', CKA_WRAP: 'bool', CKA_UNWRAP: 'bool',
  CKA_DERIVE: 'bool', CKA_SIGN_RECOVER: 'bool', CKA_VERIFY_RECOVER: 'bool',
  CKA_LABEL: 'string',
  CKA_ID: 'bytes', CKA_VALUE: 'bytes', CKA_EC_PARAMS: 'bytes', CKA_EC_POINT: 'bytes', CKA_MODULUS: 'bytes',
  CKA_PUBLIC_EXPONENT: 'bytes', CKA_SUBJECT: 'bytes', CKA_ISSUER: 'bytes', CKA_SERIAL_NUMBER: 'bytes',
} as const satisfies Record<string, Kind>;

export type AttributeName = keyof typeof ATTRIBUTE_KINDS;
type ValueOf<K extends Kind> = K extends 'bool' ? boolean : K extends 'ulong' ? number : K extends 'string' ? string : Buffer;
export type AttributeValue<N extends AttributeName> = ValueOf<(typeof ATTRIBUTE_KINDS)[N]>;
export type Attributes<N extends AttributeName> = { [K in N]: AttributeValue<K> };

export function decodeAttribute<N extends AttributeName>(name: N, raw: Buffer): AttributeValue<N> {
  const kind: Kind = ATTRIBUTE_KINDS[name];
  switch (kind) {
    case 'bool': return (raw.length > 0 && raw[0] !== 0) as AttributeValue<N>;
    // CK_ULONG is native-endian and 8 bytes on 64-bit Linux; little-endian everywhere we run.
    case 'ulong': return Number(raw.length >= 8 ? raw.readBigUInt64LE(0) : BigInt(raw.readUIntLE(0, Math.max(1, raw.length)))) as AttributeValue<N>;
    case 'string': return raw.toString('utf8') as AttributeValue<N>;
    case 'bytes': return Buffer.from(raw) as AttributeValue<N>;
    default: {
      const never: never = kind;
      throw new TypeError(`unknown attribute kind ${String(never)}`);
    }
  }
}

export type ObjectClass = 'private-key' | 'public-key' | 'certificate' | 'data' | 'secret-key';

export function objectClassValue(cls: ObjectClass): number {
  switch (cls) {
    case 'private-key': return ck('CKO_PRIVATE_KEY');
    case 'public-key': return ck('CKO_PUBLIC_KEY');
    case 'certificate': return ck('CKO_CERTIFICATE');
    case 'data': return ck('CKO_DATA');
    case 'secret-key': return ck('CKO_SECRET_KEY');
    default: {
      const never: never = cls;
      throw new TypeError(`unknown class ${String(never)}`);
    }
  }
}

export function objectClassName(value: number): ObjectClass | 'other' {
  const all: ObjectClass[] = ['private-key', 'public-key', 'certificate', 'data', 'secret-key'];
  return all.find((c) => objectClassValue(c) === value) ?? 'other';
}

export interface ObjectQuery {
  class?: ObjectClass;
  id?: Buffer;
  label?: string;
}

export function queryTemplate(query: ObjectQuery): NativeTemplate {
  const template: NativeTemplate = [];
  if (query.class) template.push({ type: ck('CKA_CLASS'), value: objectClassValue(query.class) });
  if (query.id) template.push({ type: ck('CKA_ID'), value: query.id });
  if (query.label !== undefined) template.push({ type: ck('CKA_LABEL'), value: query.label });
  return template;
}
