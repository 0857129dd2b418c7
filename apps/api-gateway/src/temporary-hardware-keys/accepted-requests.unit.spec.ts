import { AcceptedRequests } from './accepted-requests.js';

describe('AcceptedRequests', () => {
  describe('has', () => {
    it('knows a key per user, until its time is up', () => {
      let t = 0;
      const accepted = new AcceptedRequests(() => t, 10, 1_000);
      accepted.remember('u1', 'k');
      expect(accepted.has('u1', 'k')).toBe(true);
      expect(accepted.has('u2', 'k')).toBe(false);
      t = 1_001;
      expect(accepted.has('u1', 'k')).toBe(false);
    });

    it('forgets the oldest key when full', () => {
      const accepted = new AcceptedRequests(() => 0, 2);
      accepted.remember('u', 'a');
      accepted.remember('u', 'b');
      accepted.remember('u', 'c');
      expect([accepted.has('u', 'a'), accepted.has('u', 'b'), accepted.has('u', 'c')]).toEqual([false, true, true]);
    });
  });
});
