import { RateLimiter } from './token-bucket.js';

describe('RateLimiter', () => {
  let t = 0;
  const now = () => t;
  beforeEach(() => { t = 1_000_000; });

  describe('take', () => {
    it('allows the burst and then refuses with a Retry-After until a token is refilled', () => {
      const limiter = new RateLimiter(now);
      const rule = { burst: 3, perMinute: 6 };
      for (let i = 0; i < 3; i++) expect(limiter.take([{ key: 'user:a', rule }])).toEqual({ allowed: true });
      expect(limiter.take([{ key: 'user:a', rule }])).toEqual({ allowed: false, retryAfterSeconds: 10 });
      t += 9_000;
      expect(limiter.take([{ key: 'user:a', rule }])).toEqual({ allowed: false, retryAfterSeconds: 1 });
      t += 1_000;
      expect(limiter.take([{ key: 'user:a', rule }])).toEqual({ allowed: true });
    });

    it('never refills beyond the burst', () => {
      const limiter = new RateLimiter(now);
      const rule = { burst: 2, perMinute: 60 };
      limiter.take([{ key: 'k', rule }]);
      t += 3_600_000;
      expect(limiter.take([{ key: 'k', rule }]).allowed).toBe(true);
      expect(limiter.take([{ key: 'k', rule }]).allowed).toBe(true);
      expect(limiter.take([{ key: 'k', rule }]).allowed).toBe(false);
    });

    it('takes from every bucket or from none when one of them is empty', () => {
      const limiter = new RateLimiter(now);
      const user = { burst: 5, perMinute: 5 };
      const key = { burst: 1, perMinute: 1 };
      expect(limiter.take([{ key: 'user:a', rule: user }, { key: 'key:1', rule: key }]).allowed).toBe(true);
      expect(limiter.take([{ key: 'user:a', rule: user }, { key: 'key:1', rule: key }])).toEqual({ allowed: false, retryAfterSeconds: 60 });
      // The refused call did not cost the user a token: 4 remain for other keys.
      for (let i = 2; i <= 5; i++) expect(limiter.take([{ key: 'user:a', rule: user }, { key: `key:${i}`, rule: key }]).allowed).toBe(true);
      expect(limiter.take([{ key: 'user:a', rule: user }, { key: 'key:6', rule: key }]).allowed).toBe(false);
    });

    it('keeps the users apart', () => {
      const limiter = new RateLimiter(now);
      const rule = { burst: 1, perMinute: 1 };
      expect(limiter.take([{ key: 'user:a', rule }]).allowed).toBe(true);
      expect(limiter.take([{ key: 'user:b', rule }]).allowed).toBe(true);
      expect(limiter.take([{ key: 'user:a', rule }]).allowed).toBe(false);
    });

    it('does not limit a rule whose burst is 0 (disabled)', () => {
      const limiter = new RateLimiter(now);
      for (let i = 0; i < 100; i++) expect(limiter.take([{ key: 'k', rule: { burst: 0, perMinute: 0 } }]).allowed).toBe(true);
    });

    it('bounds its memory by evicting the least recently used bucket', () => {
      const limiter = new RateLimiter(now, 3);
      const rule = { burst: 1, perMinute: 1 };
      for (const k of ['a', 'b', 'c', 'd']) limiter.take([{ key: k, rule }]);
      expect(limiter.size).toBe(3);
      // 'a' was evicted (forgiven), 'd' is still empty.
      expect(limiter.take([{ key: 'a', rule }]).allowed).toBe(true);
      expect(limiter.take([{ key: 'd', rule }]).allowed).toBe(false);
    });
  });

  describe('giveBack', () => {
    it('returns the token a call took to each of its buckets, never beyond the burst', () => {
      const limiter = new RateLimiter(now);
      const rule = { burst: 2, perMinute: 1 };
      const call = [{ key: 'user:a', rule }, { key: 'key:x', rule }];
      expect(limiter.take(call).allowed).toBe(true);
      expect(limiter.take(call).allowed).toBe(true);
      expect(limiter.take(call).allowed).toBe(false);
      limiter.giveBack(call);
      expect(limiter.take(call).allowed).toBe(true);
      expect(limiter.take(call).allowed).toBe(false);
      // A bucket that was full stays at the burst.
      const other = [{ key: 'user:b', rule }];
      limiter.take(other);
      limiter.giveBack(other);
      limiter.giveBack(other);
      expect(limiter.take(other).allowed).toBe(true);
      expect(limiter.take(other).allowed).toBe(true);
      expect(limiter.take(other).allowed).toBe(false);
    });
  });
});
