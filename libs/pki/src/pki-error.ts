import { AppError } from '@thk/core';

/**
 * Codes of `PkiError`: `der.malformed` (not strict DER), `pki.unsupported` (an algorithm or key we do
 * not accept), `pki.invalid` (well-formed but wrong, e.g. a bad signature). Authorization checks throw
 * AppErrors whose codes are the CA's rejection codes (`authorization-invalid`, …).
 */
export type PkiErrorCode = 'der.malformed' | 'pki.unsupported' | 'pki.invalid';

export class PkiError extends AppError {
  constructor(code: PkiErrorCode, message: string, options: { cause?: unknown } = {}) {
    super(code, message, { retryable: false, ...options });
    this.name = 'PkiError';
  }
}
