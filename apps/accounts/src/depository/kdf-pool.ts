import { AppError } from '@thk/core';
import { accountsMetrics } from '../metrics.js';

/**
 * Bounds the depository's deliberately expensive KDF: at most `concurrency` run at once (about the
 * core count; Node's async scrypt runs on the libuv pool, off the event loop), at most `maxQueue` wait,
 * and anything beyond answers `busy` (retryable) at once instead of joining an ever-growing queue.
 * A bounded semaphore rather than a smaller UV_THREADPOOL_SIZE, so that other pool users (async
 * signing, DNS, pg's TLS) never wait behind a 0.6 s scrypt.
 */
export class KdfPool {
  private running = 0;
  private readonly queue: Array<() => void> = [];

  constructor(readonly concurrency: number, readonly maxQueue: number) {
    if (!Number.isInteger(concurrency) || concurrency < 1) throw new RangeError('concurrency must be a positive integer');
    if (!Number.isInteger(maxQueue) || maxQueue < 0) throw new RangeError('maxQueue must be a non-negative integer');
  }

  get active(): number { return this.running; }
  get waiting(): number { return this.queue.length; }

  async run<T>(work: () => Promise<T>): Promise<T> {
    if (this.running >= this.concurrency) {
      if (this.queue.length >= this.maxQueue) {
        throw new AppError('busy', 'the key depository is busy; retry in a moment', {
          retryable: true, meta: { retryAfterMs: 1_000 },
        });
      }
      await new Promise<void>((resolve) => this.queue.push(resolve));
    } else {
      this.running++;
    }
    const end = accountsMetrics.kdfSeconds.startTimer();
    try {
      return await work();
    } finally {
      end();
      const next = this.queue.shift();
      // Hand the slot straight to the next waiter, so `running` never drops below what runs.
      if (next) next();
      else this.running--;
    }
  }
}
