import { randomUUID } from 'node:crypto';
import type { ProgressEvent } from '../http/api-routes.js';
import { requestViewFixture } from '../testing/fixtures.js';
import { eventsFromView, ProgressStream } from './progress-stream.js';

const requestId = randomUUID();
const ev = (sequence: number, status: ProgressEvent['status'] = 'key-generating'): ProgressEvent =>
  ({ requestId, sequence, status, at: new Date(1_000 * sequence).toISOString(), keyId: null, failure: null });

function harness(lastEventId = 0, history: () => Promise<ProgressEvent[]> = async () => []) {
  const written: number[] = [];
  let ended = 0;
  let fetches = 0;
  const stream = new ProgressStream(lastEventId, { write: (e) => written.push(e.sequence), end: () => { ended++; } }, async () => { fetches++; return history(); });
  return { stream, written, ended: () => ended, fetches: () => fetches };
}

const settle = () => new Promise((r) => setTimeout(r, 0));

describe('ProgressStream', () => {
  describe('offer', () => {
    it('writes events in sequence order whatever order they arrive in, once each', () => {
      const t = harness();
      t.stream.offer([ev(2), ev(1), ev(2)]);
      t.stream.offer([ev(3), ev(1)]);
      expect(t.written).toEqual([1, 2, 3]);
      expect(t.fetches()).toBe(0);
    });

    it('starts after lastEventId', () => {
      const t = harness(2);
      t.stream.offer([ev(1), ev(2), ev(3), ev(4)]);
      expect(t.written).toEqual([3, 4]);
    });

    it('ends after a terminal event and ignores anything later', () => {
      const t = harness();
      t.stream.offer([ev(1), ev(2, 'compensating'), ev(3, 'failed')]);
      t.stream.offer([ev(4)]);
      expect(t.written).toEqual([1, 2, 3]);
      expect(t.ended()).toBe(1);
      expect(t.stream.isClosed).toBe(true);
    });

    it('fills a gap from the history', async () => {
      const t = harness(1, async () => [ev(1), ev(2), ev(3)]);
      t.stream.offer([ev(4)]);
      expect(t.written).toEqual([]);
      await settle();
      expect(t.written).toEqual([2, 3, 4]);
      expect(t.fetches()).toBe(1);
    });

    it('skips a gap the history cannot fill instead of stalling', async () => {
      const t = harness(1, async () => [ev(1)]);
      t.stream.offer([ev(4), ev(5)]);
      await settle();
      await settle();
      expect(t.written).toEqual([4, 5]);
    });

    it('skips a gap when the history query fails', async () => {
      const t = harness(0, async () => { throw new Error('service-unavailable'); });
      t.stream.offer([ev(2)]);
      await settle();
      await settle();
      expect(t.written).toEqual([2]);
    });
  });

  describe('endIfFinished', () => {
    it('ends when the client already saw the terminal event', () => {
      const t = harness(7);
      const history = [ev(1), ev(7, 'completed')];
      t.stream.offer(history);
      t.stream.endIfFinished(history);
      expect(t.written).toEqual([]);
      expect(t.ended()).toBe(1);
    });

    it('does not end a stream that still has events to send', () => {
      const t = harness(1);
      t.stream.offer([ev(1), ev(2)]);
      t.stream.endIfFinished([ev(1), ev(2)]);
      expect(t.stream.isClosed).toBe(false);
    });
  });
});

describe('eventsFromView', () => {
  it('numbers the steps from 1 and puts keyId on completed and failure on failed', () => {
    const keyId = randomUUID();
    const view = requestViewFixture(requestId, randomUUID(), ['requested', 'key-generating', 'completed'], { keyId });
    const events = eventsFromView(view);
    expect(events.map((e) => [e.sequence, e.status, e.keyId])).toEqual([[1, 'requested', null], [2, 'key-generating', null], [3, 'completed', keyId]]);
    const failure = { code: 'ca-rejected' as const, detail: 'revoked' };
    const failed = eventsFromView(requestViewFixture(requestId, randomUUID(), ['requested', 'compensating', 'failed'], { failure }));
    expect(failed[2]!.failure).toEqual(failure);
    expect(failed[1]!.failure).toBeNull();
  });
});
