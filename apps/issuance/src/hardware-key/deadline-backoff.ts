/**
 * How far a due deadline whose handling failed is pushed back. A saga whose `DeadlineExpired` keeps
 * throwing (a state this version cannot handle, a bug) must not be retried every poll: the scan takes
 * the earliest deadlines first, a page at a time, so enough such sagas would hide every later deadline.
 * The delay doubles with each consecutive failure, up to a ceiling, and the saga is never given up on
 * (once fixed, its deadline fires within `maxMs`).
 */
export interface DeadlineBackoff {
  /** The delay after the first failure. */
  firstMs: number;
  /** The longest delay. */
  maxMs: number;
}

export const DEFAULT_DEADLINE_BACKOFF: DeadlineBackoff = { firstMs: 5_000, maxMs: 600_000 };

/** The delay after the `failures`-th consecutive failure (1-based): first, 2×first, 4×first, … ≤ max. */
export function deadlineRetryDelayMs(failures: number, backoff: DeadlineBackoff = DEFAULT_DEADLINE_BACKOFF): number {
  const doublings = Math.min(Math.max(failures, 1) - 1, 40);
  return Math.min(backoff.maxMs, backoff.firstMs * 2 ** doublings);
}
