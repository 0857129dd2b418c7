import fc from 'fast-check';
import { DEFAULT_DEADLINE_BACKOFF, deadlineRetryDelayMs } from './deadline-backoff.js';

describe('deadline back-off', () => {
  it('doubles from the first delay up to the ceiling', () => {
    const b = { firstMs: 1_000, maxMs: 10_000 };
    expect([1, 2, 3, 4, 5, 6, 100].map((n) => deadlineRetryDelayMs(n, b))).toEqual([1_000, 2_000, 4_000, 8_000, 10_000, 10_000, 10_000]);
  });

  it('is always between the first delay and the ceiling, and never shrinks as failures add up', () => {
    fc.assert(fc.property(fc.integer({ min: 1, max: 1_000_000 }), (n) => {
      const d = deadlineRetryDelayMs(n);
      expect(d).toBeGreaterThanOrEqual(DEFAULT_DEADLINE_BACKOFF.firstMs);
      expect(d).toBeLessThanOrEqual(DEFAULT_DEADLINE_BACKOFF.maxMs);
      expect(deadlineRetryDelayMs(n + 1)).toBeGreaterThanOrEqual(d);
    }));
  });
});
