export type Settled<T> = { ok: true; value: T } | { ok: false; error: unknown };

interface Pending<TIn, TOut> { item: TIn; resolve(value: TOut): void; reject(error: unknown): void }

/**
 * Group commit inside one process: items submitted while a flush is running wait and go together
 * in the next one (at most `maxBatch`, at most `maxInFlight` flushes at a time). Under load one
 * database round trip serves many messages; alone, an item is flushed at once (no timer, no delay).
 */
export class Batcher<TIn, TOut> {
  private readonly queue: Array<Pending<TIn, TOut>> = [];
  private inFlight = 0;

  constructor(
    private readonly flush: (items: TIn[]) => Promise<Array<Settled<TOut>>>,
    private readonly options: { maxBatch: number; maxInFlight: number },
  ) {}

  submit(item: TIn): Promise<TOut> {
    return new Promise<TOut>((resolve, reject) => {
      this.queue.push({ item, resolve, reject });
      this.pump();
    });
  }

  private pump(): void {
    while (this.inFlight < this.options.maxInFlight && this.queue.length > 0) {
      const batch = this.queue.splice(0, this.options.maxBatch);
      this.inFlight++;
      this.flush(batch.map((p) => p.item))
        .then((results) => {
          batch.forEach((p, i) => {
            const r = results[i];
            if (!r) p.reject(new Error('batch flush answered too few results'));
            else if (r.ok) p.resolve(r.value);
            else p.reject(r.error);
          });
        }, (error: unknown) => { for (const p of batch) p.reject(error); })
        .finally(() => { this.inFlight--; this.pump(); });
    }
  }
}
