import { AppError } from '@thk/core';
import { ckrCode, ckrName, native } from './pkcs11js.js';

/**
 * Return values after which the same call can succeed later without another input: the device was
 * busy, a session went away, the token was pulled out and may come back. A wrong PIN, a refused
 * template or an unsupported mechanism never gets better by retrying; a PIN must never be retried.
 */
const RETRYABLE = new Set([
  'CKR_HOST_MEMORY', 'CKR_DEVICE_ERROR', 'CKR_DEVICE_REMOVED', 'CKR_TOKEN_NOT_PRESENT', 'CKR_FUNCTION_CANCELED',
  'CKR_SESSION_CLOSED', 'CKR_SESSION_HANDLE_INVALID', 'CKR_SESSION_COUNT', 'CKR_OPERATION_ACTIVE', 'CKR_CANT_LOCK',
  'CKR_CRYPTOKI_NOT_INITIALIZED', 'CKR_SLOT_ID_INVALID',
]);

export function isRetryableCkr(ckr: string): boolean {
  return RETRYABLE.has(ckr);
}

/**
 * Every failure of a PKCS#11 call: the `CKR_*` name, the function that returned it, and whether a
 * retry can help. `code` is `pkcs11.<CKR name>` so it survives a process boundary like any AppError.
 * Failures of the binding itself (a module that cannot be loaded) carry `ckr: 'NATIVE'`.
 */
export class Pkcs11Error extends AppError {
  readonly ckr: string;
  readonly ckrCode: number | undefined;
  readonly fn: string;

  constructor(ckr: string, fn: string, options: { message?: string; cause?: unknown; retryable?: boolean } = {}) {
    const retryable = options.retryable ?? isRetryableCkr(ckr);
    super(`pkcs11.${ckr}`, options.message ?? `${fn} failed: ${ckr}`, { retryable, meta: { ckr, fn }, cause: options.cause });
    this.name = 'Pkcs11Error';
    this.ckr = ckr;
    this.ckrCode = ckrCode(ckr);
    this.fn = fn;
  }

  /** Is this the given `CKR_*` failure (of any function)? */
  is(...ckrs: string[]): boolean {
    return ckrs.includes(this.ckr);
  }

  static override is(value: unknown, ...ckrs: string[]): value is Pkcs11Error {
    return value instanceof Pkcs11Error && (ckrs.length === 0 || ckrs.includes(value.ckr));
  }

  /** Normalises whatever pkcs11js threw (its Pkcs11Error, NativeError or a TypeError) for `fn`. */
  static from(error: unknown, fn: string): Pkcs11Error {
    if (error instanceof Pkcs11Error) return error;
    const e = error as { name?: string; message?: string; code?: number; method?: string };
    if (error instanceof native.Pkcs11Error || (e?.name === 'Pkcs11Error' && typeof e.code === 'number')) {
      const ckr = typeof e.code === 'number' && e.code !== 0 ? ckrName(e.code) : (e.message ?? 'CKR_GENERAL_ERROR');
      return new Pkcs11Error(ckr, e.method || fn, { cause: error });
    }
    return new Pkcs11Error('NATIVE', e?.method || fn, { message: `${fn} failed: ${e?.message ?? String(error)}`, cause: error, retryable: false });
  }
}

/**
 * `login` refused to send a PIN because the token's flags say it is locked, or that the next wrong
 * PIN would lock it (some tokens then destroy their keys). No `C_Login` was made.
 */
export class PinStateRefusal extends AppError {
  constructor(readonly reason: 'pin-locked' | 'pin-final-try', readonly userType: 'user' | 'so') {
    super(`pkcs11.${reason}`, reason === 'pin-locked'
      ? `the token's ${userType === 'so' ? 'SO' : 'user'} PIN is locked; no login was attempted`
      : `the token's ${userType === 'so' ? 'SO' : 'user'} PIN has one try left; no login was attempted`, { retryable: false, meta: { reason, userType, attempted: false } });
    this.name = 'PinStateRefusal';
  }
}
