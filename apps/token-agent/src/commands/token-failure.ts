import type { TokenFailureCode } from '@thk/contracts';
import { AppError } from '@thk/core';
import { PinStateRefusal, Pkcs11Error } from '@thk/pkcs11';

/** An expected failure of a token command: it becomes a failure event, never a retry. */
export class TokenFailure extends AppError {
  constructor(readonly failureCode: TokenFailureCode, message: string) {
    super(failureCode, message, { retryable: false });
    this.name = 'TokenFailure';
  }
}

const ABSENT = ['CKR_TOKEN_NOT_PRESENT', 'CKR_DEVICE_REMOVED', 'CKR_SLOT_ID_INVALID', 'CKR_TOKEN_NOT_RECOGNIZED', 'CKR_SESSION_HANDLE_INVALID', 'CKR_SESSION_CLOSED'];
const UNSUPPORTED = ['CKR_MECHANISM_INVALID', 'CKR_MECHANISM_PARAM_INVALID', 'CKR_KEY_SIZE_RANGE', 'CKR_CURVE_NOT_SUPPORTED', 'CKR_DOMAIN_PARAMS_INVALID'];

/**
 * Maps what went wrong to the failure codes of the contract. Messages are for people and never
 * carry a PIN (PKCS#11 errors name only the function and the return value). Anything that is not a
 * token matter (NATS down, a disk error) is not mapped: it is retried as a message.
 */
export function toTokenFailure(error: unknown): TokenFailure | undefined {
  if (error instanceof TokenFailure) return error;
  if (error instanceof PinStateRefusal) {
    return new TokenFailure('token-pin-locked', error.reason === 'pin-locked'
      ? 'the token PIN is locked; unlock it with the token tools (SO PIN) and try again'
      : 'the token PIN has one try left; the agent does not risk locking it. Unlock or reset it with the token tools');
  }
  if (error instanceof AppError && error.code === 'sealed-password-invalid') return new TokenFailure('sealed-password-invalid', error.message);
  if (error instanceof Pkcs11Error) {
    if (error.is('CKR_PIN_INCORRECT')) return new TokenFailure('wrong-token-password', 'the current token password is wrong');
    if (error.is('CKR_PIN_LOCKED')) return new TokenFailure('token-pin-locked', 'the token PIN is locked');
    if (error.is('CKR_PIN_LEN_RANGE', 'CKR_PIN_INVALID')) return new TokenFailure('pin-policy', 'the token refused the new password (length or characters)');
    if (error.is(...ABSENT)) return new TokenFailure('token-absent', `the token is no longer present (${error.ckr} from ${error.fn})`);
    if (error.is(...UNSUPPORTED)) return new TokenFailure('algorithm-unsupported', `the token does not support the requested algorithm (${error.ckr} from ${error.fn})`);
    return new TokenFailure('token-error', `the token failed: ${error.ckr} from ${error.fn}`);
  }
  return undefined;
}
