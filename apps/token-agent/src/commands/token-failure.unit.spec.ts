import { AppError } from '@thk/core';
import { PinStateRefusal, Pkcs11Error } from '@thk/pkcs11';
import { TokenFailure, toTokenFailure } from './token-failure.js';

describe('toTokenFailure', () => {
  it.each([
    [new PinStateRefusal('pin-locked', 'user'), 'token-pin-locked'],
    [new PinStateRefusal('pin-final-try', 'user'), 'token-pin-locked'],
    [new Pkcs11Error('CKR_PIN_INCORRECT', 'C_Login'), 'wrong-token-password'],
    [new Pkcs11Error('CKR_PIN_LOCKED', 'C_Login'), 'token-pin-locked'],
    [new Pkcs11Error('CKR_PIN_LEN_RANGE', 'C_SetPIN'), 'pin-policy'],
    [new Pkcs11Error('CKR_TOKEN_NOT_PRESENT', 'C_OpenSession'), 'token-absent'],
    [new Pkcs11Error('CKR_DEVICE_REMOVED', 'C_Sign'), 'token-absent'],
    [new Pkcs11Error('CKR_MECHANISM_INVALID', 'C_GenerateKeyPair'), 'algorithm-unsupported'],
    [new Pkcs11Error('CKR_DEVICE_MEMORY', 'C_GenerateKeyPair'), 'token-error'],
    [new AppError('sealed-password-invalid', 'x'), 'sealed-password-invalid'],
    [new TokenFailure('pin-policy', 'x'), 'pin-policy'],
  ])('maps %s to %s', (error, code) => {
    expect(toTokenFailure(error)?.failureCode).toBe(code);
  });

  it('leaves anything that is not a token matter to be retried', () => {
    expect(toTokenFailure(new AppError('messaging.publish-failed', 'nats down', { retryable: true }))).toBeUndefined();
    expect(toTokenFailure(new Error('EIO'))).toBeUndefined();
  });
});
