import type { ValidityWindow } from '@thk/contracts';
import { addCalendarMonth } from './zoned-time.js';

/**
 * The validity policy of a temporary key (design.md §4), pure: the same answer for the preview
 * and for the request, given the same moment and certificates.
 *
 * `notBefore` is the issuing moment, truncated to the whole second (X.509 times carry seconds, so
 * what the dialog shows is what the certificate will say) — but never before the base certificate's
 * own start: when that falls within the same second, after the whole second, the base's start rounded
 * up to the next whole second is taken instead. `notAfter` is the earliest of the chosen period's end,
 * the base certificate's end and the issuing CA's end.
 */

export const VALIDITY_OPTIONS = ['P1D', 'P1W', 'P1M', 'base'] as const;
export type ValidityOptionName = (typeof VALIDITY_OPTIONS)[number];

export interface ValidityPolicySettings {
  /** A base certificate (or the resulting key) ending sooner than this after now is refused. */
  minimumRemainingMs: number;
  /** The zone in which a calendar month is counted (the zone the cabinet shows). */
  timeZone: string;
}

export const DEFAULT_VALIDITY_SETTINGS: ValidityPolicySettings = { minimumRemainingMs: 3_600_000, timeZone: 'Europe/Kyiv' };

export interface ValidityQuery {
  option: string;
  now: Date;
  base: { notBefore: Date; notAfter: Date; revoked: boolean };
  /** The issuing CA certificate's notAfter; it caps every certificate the CA issues. */
  issuerNotAfter: Date;
}

export type ValidityRefusalReason =
  | 'unknown-option' | 'base-revoked' | 'base-not-yet-valid' | 'base-expired' | 'base-ending' | 'issuer-ending';

/** The AppError code each refusal answers with (api.md). */
export const REFUSAL_CODES: Record<ValidityRefusalReason, string> = {
  'unknown-option': 'validation-failed',
  'base-revoked': 'key-not-eligible',
  'base-not-yet-valid': 'key-not-eligible',
  'base-expired': 'key-not-eligible',
  'base-ending': 'base-certificate-expiring',
  'issuer-ending': 'issuer-certificate-expiring',
};

export type ValidityDecision =
  | { ok: true; window: ValidityWindow }
  | { ok: false; reason: ValidityRefusalReason; code: string; message: string };

const HOUR = 3_600_000;
const DAY = 24 * HOUR;

export function isValidityOption(value: string): value is ValidityOptionName {
  return (VALIDITY_OPTIONS as readonly string[]).includes(value);
}

/** The end of the chosen period when nothing caps it. */
export function periodEnd(option: ValidityOptionName, notBefore: Date, baseNotAfter: Date, timeZone: string): Date {
  switch (option) {
    case 'P1D': return new Date(notBefore.getTime() + DAY);
    case 'P1W': return new Date(notBefore.getTime() + 7 * DAY);
    case 'P1M': return addCalendarMonth(notBefore, timeZone);
    case 'base': return baseNotAfter;
    default: {
      const never: never = option;
      throw new Error(`unhandled validity option ${String(never)}`);
    }
  }
}

/**
 * The certificate's `notBefore`: now truncated to the second, or — when the base certificate started
 * within that same second — the base's start rounded up to the second, so that the temporary key never
 * starts before its base (an X.509 time cannot say the base's fraction of a second).
 */
export function issuingMoment(now: Date, baseNotBefore: Date): Date {
  const second = 1_000;
  return new Date(Math.max(Math.floor(now.getTime() / second) * second, Math.ceil(baseNotBefore.getTime() / second) * second));
}

function refuse(reason: ValidityRefusalReason, message: string): ValidityDecision {
  return { ok: false, reason, code: REFUSAL_CODES[reason], message };
}

const minutes = (ms: number) => `${Math.round(ms / 60_000)} min`;

export function decideValidity(query: ValidityQuery, settings: ValidityPolicySettings = DEFAULT_VALIDITY_SETTINGS): ValidityDecision {
  const { option, base } = query;
  if (!isValidityOption(option)) return refuse('unknown-option', `unknown validity option "${option}"; expected one of ${VALIDITY_OPTIONS.join(', ')}`);
  const notBefore = issuingMoment(query.now, base.notBefore);
  if (base.revoked) return refuse('base-revoked', 'the base certificate is revoked');
  if (base.notBefore.getTime() > query.now.getTime()) return refuse('base-not-yet-valid', 'the base certificate is not valid yet');
  if (base.notAfter.getTime() <= query.now.getTime()) return refuse('base-expired', 'the base certificate has expired');
  if (base.notAfter.getTime() - notBefore.getTime() < settings.minimumRemainingMs) {
    return refuse('base-ending', `the base certificate ends in less than ${minutes(settings.minimumRemainingMs)}`);
  }
  if (query.issuerNotAfter.getTime() - notBefore.getTime() < settings.minimumRemainingMs) {
    return refuse('issuer-ending', `the issuing CA's certificate ends in less than ${minutes(settings.minimumRemainingMs)}`);
  }

  const wanted = periodEnd(option, notBefore, base.notAfter, settings.timeZone);
  let notAfter = wanted;
  let cappedBy: ValidityWindow['cappedBy'] = null;
  // The base certificate caps first; on a tie the base certificate is named (it is what the user chose from).
  if (base.notAfter.getTime() < notAfter.getTime()) { notAfter = base.notAfter; cappedBy = 'base-certificate'; }
  if (query.issuerNotAfter.getTime() < notAfter.getTime()) { notAfter = query.issuerNotAfter; cappedBy = 'issuer'; }
  return {
    ok: true,
    window: { option, notBefore: notBefore.toISOString(), notAfter: notAfter.toISOString(), capped: cappedBy !== null, cappedBy },
  };
}
