import type { ValidityOption } from '@thk/contracts';
import { maxValidityDurationMs } from '@thk/pki';

export interface WindowCheckInput {
  notBefore: Date;
  notAfter: Date;
  option: ValidityOption;
  /** The depository's cap from the authorization. */
  notAfterCap: Date;
  baseNotBefore: Date;
  baseNotAfter: Date;
  caNotAfter: Date;
  /** The authorization's `iat`. */
  authorizedAt: Date;
  now: Date;
  /** How far `notBefore` may lie before the authorization, and after now. */
  maxBackdateMs: number;
  clockToleranceMs: number;
}

/**
 * Re-checks the requested window against every cap: it must start around the authorization (no
 * backdating, nothing far in the future), end after it starts, no later than the authorization's
 * cap, the base certificate and the CA certificate, and not last longer than the chosen option.
 * Answers null when the window is acceptable, else why not.
 */
export function checkWindow(w: WindowCheckInput): string | null {
  const t = (d: Date) => Math.floor(d.getTime() / 1000) * 1000; // what the certificate will say
  const notBefore = t(w.notBefore);
  const notAfter = t(w.notAfter);
  if (notAfter <= notBefore) return 'the window ends before it starts';
  if (notBefore < w.authorizedAt.getTime() - w.maxBackdateMs) return 'the window starts before the authorization';
  if (notBefore > w.now.getTime() + w.clockToleranceMs) return 'the window starts in the future';
  if (notBefore < w.baseNotBefore.getTime()) return 'the window starts before the base certificate';
  if (notAfter > w.baseNotAfter.getTime()) return 'the window ends after the base certificate';
  if (notAfter > w.caNotAfter.getTime()) return 'the window ends after the issuing CA certificate';
  if (notAfter > w.notAfterCap.getTime()) return 'the window ends after the authorized cap';
  if (notAfter - notBefore > maxValidityDurationMs(w.option)) return `the window is longer than the authorized option ${w.option}`;
  return null;
}
