import { z } from 'zod';

/** RFC 5280 CRLReason names. */
export const revocationReason = z.enum([
  'unspecified', 'keyCompromise', 'affiliationChanged', 'superseded', 'cessationOfOperation', 'certificateHold', 'privilegeWithdrawn',
]);
export type RevocationReason = z.infer<typeof revocationReason>;
