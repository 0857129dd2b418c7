import { z } from 'zod';

/** Why a saga failed, in words a person understands (the cabinet translates each). */
export const hardwareKeyFailureCode = z.enum([
  'agent-timeout',
  'token-absent',
  'token-pin-locked',
  'wrong-token-password',
  'pin-policy',
  'algorithm-unsupported',
  'token-error',
  'ca-rejected',
  'certificate-timeout',
  'install-failed',
  'base-key-ineligible',
]);
export type HardwareKeyFailureCode = z.infer<typeof hardwareKeyFailureCode>;

export const hardwareKeyRequestStatus = z.enum([
  'requested', 'key-generating', 'key-generated', 'certificate-issuing', 'certificate-issued',
  'installing', 'completed', 'compensating', 'failed',
]);
export type HardwareKeyRequestStatus = z.infer<typeof hardwareKeyRequestStatus>;
