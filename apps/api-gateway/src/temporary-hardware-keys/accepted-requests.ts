/**
 * A cache of the idempotency keys that issuance has answered for as stored (a 202, or an
 * `idempotency-conflict`), per user. Issuance answers a key it has stored from what it stored,
 * before any check and without the password, so a seen key goes straight to it: no body 400, no
 * 404, no rate limit (a client repeating a call whose answer it lost must not be braked), and a
 * body that does not even parse is another body than the stored one (409). The store is issuance's
 * table; this is only what this replica has learnt of it. Bounded and forgetful: a forgotten key
 * takes the new-key order until issuance answers it again.
 */
export class AcceptedRequests {
  private readonly keys = new Map<string, number>();

  constructor(private readonly now: () => number, private readonly max = 10_000, private readonly ttlMs = 24 * 3_600_000) {}

  remember(userId: string, idempotencyKey: string): void {
    const k = `${userId}\u0000${idempotencyKey}`;
    this.keys.delete(k);
    while (this.keys.size >= this.max) {
      const oldest = this.keys.keys().next().value;
      if (oldest === undefined) break;
      this.keys.delete(oldest);
    }
    this.keys.set(k, this.now());
  }

  has(userId: string, idempotencyKey: string): boolean {
    const k = `${userId}\u0000${idempotencyKey}`;
    const at = this.keys.get(k);
    if (at === undefined) return false;
    if (this.now() - at > this.ttlMs) {
      this.keys.delete(k);
      return false;
    }
    return true;
  }
}
