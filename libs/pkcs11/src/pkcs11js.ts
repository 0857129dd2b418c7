// The one place that loads `pkcs11js` (lint forbids it anywhere else in the workspace).
// It is a CommonJS module whose exports are a native object: only a default import sees them in ESM.
import pkcs11js from 'pkcs11js';

export type NativePkcs11 = InstanceType<typeof pkcs11js.PKCS11>;
export type Handle = Buffer;
export type NativeTemplate = Array<{ type: number; value?: number | boolean | string | Buffer }>;

export const native = pkcs11js;

/** Every `CK*_…` constant pkcs11js knows, by name. */
const constants = pkcs11js as unknown as Record<string, unknown>;

/** The number of a PKCS#11 constant (`CKA_ID`, `CKM_ECDSA`, …); throws on a typo rather than sending `undefined`. */
export function ck(name: string): number {
  const value = constants[name];
  if (typeof value !== 'number') throw new TypeError(`pkcs11js has no constant ${name}`);
  return value;
}

function reverse(prefix: string): Map<number, string> {
  const map = new Map<number, string>();
  for (const [name, value] of Object.entries(constants)) {
    if (name.startsWith(prefix) && typeof value === 'number' && !map.has(value)) map.set(value, name);
  }
  return map;
}

const ckrNames = reverse('CKR_');
const ckmNames = reverse('CKM_');

export function ckrName(code: number): string {
  return ckrNames.get(code) ?? `CKR_0x${code.toString(16).padStart(8, '0')}`;
}

export function ckmName(code: number): string {
  return ckmNames.get(code) ?? `CKM_0x${code.toString(16).padStart(8, '0')}`;
}

export function ckrCode(name: string): number | undefined {
  const value = constants[name];
  return typeof value === 'number' ? value : undefined;
}
