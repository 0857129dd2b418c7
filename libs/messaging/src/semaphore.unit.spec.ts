import { Semaphore } from './semaphore.js';

describe('Semaphore', () => {
  describe('use', () => {
    it('never runs more than its capacity at once', async () => {
      const sem = new Semaphore(2);
      let running = 0;
      let peak = 0;
      await Promise.all(Array.from({ length: 10 }, () => sem.use(async () => {
        running++;
        peak = Math.max(peak, running);
        await new Promise((r) => setTimeout(r, 5));
        running--;
      })));
      expect(peak).toBe(2);
      expect(sem.inUse).toBe(0);
    });

    it('releases its permit when the work throws', async () => {
      const sem = new Semaphore(1);
      await expect(sem.use(async () => { throw new Error('x'); })).rejects.toThrow('x');
      expect(sem.tryAcquire()).toBe(true);
    });
  });

  describe('tryAcquire', () => {
    it('refuses when every permit is held', () => {
      const sem = new Semaphore(1);
      expect(sem.tryAcquire()).toBe(true);
      expect(sem.tryAcquire()).toBe(false);
      sem.release();
      expect(sem.tryAcquire()).toBe(true);
    });
  });
});
