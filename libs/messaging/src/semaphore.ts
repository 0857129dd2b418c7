/** A counting semaphore: bounds how much work runs at once without an unbounded queue of timers. */
export class Semaphore {
  private available: number;
  private readonly waiters: Array<() => void> = [];

  constructor(readonly capacity: number) {
    if (!Number.isInteger(capacity) || capacity < 1) throw new RangeError('capacity must be a positive integer');
    this.available = capacity;
  }

  get inUse(): number { return this.capacity - this.available; }
  get waiting(): number { return this.waiters.length; }

  tryAcquire(): boolean {
    if (this.available > 0) { this.available--; return true; }
    return false;
  }

  async acquire(): Promise<void> {
    if (this.tryAcquire()) return;
    await new Promise<void>((resolve) => this.waiters.push(resolve));
  }

  release(): void {
    const next = this.waiters.shift();
    if (next) next();
    else this.available++;
  }

  async use<T>(fn: () => Promise<T>): Promise<T> {
    await this.acquire();
    try { return await fn(); } finally { this.release(); }
  }

  /** Resolves true once nothing holds a permit, or false when `timeoutMs` passes first (used to drain on shutdown). */
  async idle(timeoutMs = Number.POSITIVE_INFINITY): Promise<boolean> {
    const deadline = Date.now() + timeoutMs;
    while (this.inUse > 0) {
      if (Date.now() >= deadline) return false;
      await new Promise((r) => setTimeout(r, 10).unref());
    }
    return true;
  }
}
