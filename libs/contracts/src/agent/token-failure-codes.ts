import { z } from 'zod';

export const tokenFailureCode = z.enum([
  'token-absent',
  'token-pin-locked',
  'wrong-token-password',
  'sealed-password-invalid',
  'pin-policy',
  'algorithm-unsupported',
  'certificate-mismatch',
  'token-error',
]);
export type TokenFailureCode = z.infer<typeof tokenFailureCode>;
