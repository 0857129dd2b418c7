import { Batcher } from './batcher.js';

describe('Batcher', () => {
  describe('submit', () => {
    it('flushes a lone item at once and groups items that arrive during a flush', async () => {
      const batches: number[][] = [];
      let release!: () => void;
      const gate = new Promise<void>((r) => { release = r; });
      const b = new Batcher<number, number>(async (items) => {
        batches.push(items);
        if (batches.length === 1) await gate;
        return items.map((i) => ({ ok: true as const, value: i * 10 }));
      }, { maxBatch: 3, maxInFlight: 1 });
      const first = b.submit(1);
      const rest = [2, 3, 4, 5].map((i) => b.submit(i));
      release();
      expect(await first).toBe(10);
      expect(await Promise.all(rest)).toEqual([20, 30, 40, 50]);
      expect(batches).toEqual([[1], [2, 3, 4], [5]]);
    });

    it('rejects only the items whose result failed, and all items when the flush throws', async () => {
      const b = new Batcher<number, number>(async (items) => {
        if (items.includes(99)) throw new Error('down');
        return items.map((i) => (i % 2 ? { ok: true as const, value: i } : { ok: false as const, error: new Error(`bad ${i}`) }));
      }, { maxBatch: 10, maxInFlight: 1 });
      const results = await Promise.allSettled([b.submit(1), b.submit(2), b.submit(3)]);
      expect(results.map((r) => r.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
      await expect(b.submit(99)).rejects.toThrow('down');
    });
  });
});
