import type { ValidityOption } from '@thk/contracts';

const HOUR = 3_600_000;
const DAY = 24 * HOUR;

/**
 * One calendar month later, clamped to the last day of the target month (31 Jan → 28/29 Feb),
 * same time of day, in UTC.
 */
export function addCalendarMonth(from: Date): Date {
  const y = from.getUTCFullYear();
  const m = from.getUTCMonth() + 1;
  const lastDay = new Date(Date.UTC(y, m + 1, 0)).getUTCDate();
  return new Date(Date.UTC(y, m, Math.min(from.getUTCDate(), lastDay), from.getUTCHours(), from.getUTCMinutes(), from.getUTCSeconds(), from.getUTCMilliseconds()));
}

/** The end of a validity option started at `from` (`base` has no end of its own: null). */
export function validityOptionEnd(from: Date, option: ValidityOption): Date | null {
  switch (option) {
    case 'P1D': return new Date(from.getTime() + DAY);
    case 'P1W': return new Date(from.getTime() + 7 * DAY);
    case 'P1M': return addCalendarMonth(from);
    case 'base': return null;
    default: {
      const never: never = option;
      throw new Error(`unknown validity option ${String(never)}`);
    }
  }
}

/**
 * The longest window an option can give, whatever the calendar or time zone the issuer used to
 * compute it (a month is at most 31 days): the CA's re-check must never refuse what a correct
 * issuance policy produced.
 */
export function maxValidityDurationMs(option: ValidityOption): number {
  switch (option) {
    case 'P1D': return DAY;
    case 'P1W': return 7 * DAY;
    case 'P1M': return 31 * DAY;
    case 'base': return Number.POSITIVE_INFINITY;
    default: {
      const never: never = option;
      throw new Error(`unknown validity option ${String(never)}`);
    }
  }
}
