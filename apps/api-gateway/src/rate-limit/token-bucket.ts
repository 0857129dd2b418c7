import type { RateLimitRule } from '../config.js';

/** Refill arithmetic in floating point: 0.9 + 0.1 must count as a whole token. */
const EPSILON = 1e-9;

interface Bucket { tokens: number; updatedAt: number; rule: RateLimitRule }

/** The buckets a call takes a token from (or gives it back to): each by its key, under its rule. */
export type BucketRequests = ReadonlyArray<{ key: string; rule: RateLimitRule }>;

export type TakeResult = { allowed: true } | { allowed: false; retryAfterSeconds: number };

/**
 * In-memory token buckets, one per key (`user:<id>`, `key:<id>`, …). A call takes one token
 * from every bucket it names or from none: a refused call costs nothing. Per replica: with N
 * replicas the effective limit is up to N times the rule (acceptable for a brake on guessing;
 * the depository's lockout is the hard limit).
 */
export class RateLimiter {
  private readonly buckets = new Map<string, Bucket>();

  constructor(private readonly now: () => number = Date.now, private readonly maxBuckets = 100_000) {}

  take(requests: BucketRequests): TakeResult {
    const t = this.now();
    const active = requests.filter((r) => r.rule.burst > 0);
    const buckets = active.map((r) => this.refill(r.key, r.rule, t));
    const waits = buckets.map((b) => (b.tokens >= 1 - EPSILON ? 0 : this.secondsUntilToken(b)));
    const wait = Math.max(0, ...waits);
    if (wait > 0) return { allowed: false, retryAfterSeconds: Math.max(1, Math.ceil(wait - 1e-6)) };
    for (const b of buckets) b.tokens = Math.max(0, b.tokens - 1);
    return { allowed: true };
  }

  /**
   * Gives back the token `take` took from each of these buckets, for a call that turned out not to
   * count (a replay: no password was tried). Never above the burst; an evicted bucket is full anyway.
   */
  giveBack(requests: BucketRequests): void {
    for (const r of requests) {
      const b = this.buckets.get(r.key);
      if (b && r.rule.burst > 0) b.tokens = Math.min(r.rule.burst, b.tokens + 1);
    }
  }

  get size(): number { return this.buckets.size; }

  private refill(key: string, rule: RateLimitRule, t: number): Bucket {
    let b = this.buckets.get(key);
    if (!b) {
      b = { tokens: rule.burst, updatedAt: t, rule };
      this.evictIfFull();
    } else {
      this.buckets.delete(key);
      const elapsedMin = Math.max(0, t - b.updatedAt) / 60_000;
      b.tokens = Math.min(rule.burst, b.tokens + elapsedMin * rule.perMinute);
      b.updatedAt = t;
      b.rule = rule;
    }
    // Re-inserted last: the map's order is least recently used first.
    this.buckets.set(key, b);
    return b;
  }

  private secondsUntilToken(b: Bucket): number {
    if (b.rule.perMinute <= 0) return 3_600;
    return ((1 - b.tokens) / b.rule.perMinute) * 60;
  }

  private evictIfFull(): void {
    // A full bucket that is evicted loses nothing; a partly used one is forgiven, which bounds memory.
    while (this.buckets.size >= this.maxBuckets) {
      const oldest = this.buckets.keys().next().value;
      if (oldest === undefined) return;
      this.buckets.delete(oldest);
    }
  }
}
