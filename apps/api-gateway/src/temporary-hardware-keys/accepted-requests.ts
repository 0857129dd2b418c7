/**
 * Idempotency keys whose forming call this replica saw accepted (202), per user. Issuance answers a
 * key it has already seen from what it stored, without checking the password again, so such a
 * retry (a client repeating a call whose answer it lost) must not be braked by the password rate
 * limit. Bounded and forgetful: a forgotten key is only rate-limited like a new one.
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
