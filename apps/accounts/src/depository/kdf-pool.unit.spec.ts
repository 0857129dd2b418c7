import { KdfPool } from './kdf-pool.js';

const deferred = () => {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => { resolve = r; });
  return { promise, resolve };
};

describe('KdfPool', () => {
  describe('run', () => {
    it('runs at most `concurrency` at once and queues up to `maxQueue`', async () => {
      const pool = new KdfPool(2, 2);
      const gates = Array.from({ length: 4 }, deferred);
      let running = 0;
      let peak = 0;
      const runs = gates.map((g) => pool.run(async () => { running++; peak = Math.max(peak, running); await g.promise; running--; }));
      await new Promise((r) => setImmediate(r));
      expect(pool.active).toBe(2);
      expect(pool.waiting).toBe(2);
      gates.forEach((g) => g.resolve());
      await Promise.all(runs);
      expect(peak).toBe(2);
      expect(pool.active).toBe(0);
    });

    it('answers busy (retryable) beyond the queue bound, at once', async () => {
      const pool = new KdfPool(1, 1);
      const gate = deferred();
      const first = pool.run(() => gate.promise);
      const second = pool.run(async () => 'second');
      await expect(pool.run(async () => 'third')).rejects.toMatchObject({ code: 'busy', retryable: true });
      gate.resolve();
      await first;
      await expect(second).resolves.toBe('second');
    });

    it('frees the slot when the work fails', async () => {
      const pool = new KdfPool(1, 0);
      await expect(pool.run(async () => { throw new Error('boom'); })).rejects.toThrow('boom');
      await expect(pool.run(async () => 'next')).resolves.toBe('next');
    });
  });
});
