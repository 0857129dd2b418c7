import type { ProgressEvent, RequestStatus } from '../api/types.js';
import { latestStatus, progressSteps } from './progress-steps.js';

const ev = (sequence: number, status: RequestStatus): ProgressEvent => ({
  requestId: '00000000-0000-4000-8000-000000000001', sequence, status, at: new Date(Date.UTC(2021, 7, 25, 13, 59, sequence)).toISOString(), keyId: null, failure: null,
});
const states = (events: ProgressEvent[]) => progressSteps(events).map((s) => s.state);

describe('progressSteps', () => {
  it('shows the first step under way before any event', () => {
    expect(states([])).toEqual(['active', 'pending', 'pending', 'pending']);
  });

  it('moves step by step through the saga', () => {
    expect(states([ev(1, 'requested')])).toEqual(['done', 'active', 'pending', 'pending']);
    expect(states([ev(1, 'requested'), ev(2, 'key-generating')])).toEqual(['done', 'active', 'pending', 'pending']);
    expect(states([ev(1, 'requested'), ev(2, 'key-generating'), ev(3, 'key-generated')])).toEqual(['done', 'done', 'active', 'pending']);
    expect(states([ev(1, 'requested'), ev(2, 'key-generating'), ev(3, 'key-generated'), ev(4, 'certificate-issuing'), ev(5, 'certificate-issued'), ev(6, 'installing')]))
      .toEqual(['done', 'done', 'done', 'active']);
    expect(states([ev(1, 'requested'), ev(2, 'key-generating'), ev(3, 'key-generated'), ev(4, 'certificate-issuing'), ev(5, 'certificate-issued'), ev(6, 'installing'), ev(7, 'completed')]))
      .toEqual(['done', 'done', 'done', 'done']);
  });

  it('marks the step that was under way as failed', () => {
    expect(states([ev(1, 'requested'), ev(2, 'key-generating'), ev(3, 'compensating'), ev(4, 'failed')])).toEqual(['done', 'failed', 'pending', 'pending']);
  });

  it('does not care about order or duplicates', () => {
    expect(states([ev(3, 'key-generated'), ev(1, 'requested'), ev(3, 'key-generated'), ev(2, 'key-generating')])).toEqual(['done', 'done', 'active', 'pending']);
  });

  it('times a done step by when it ended', () => {
    const steps = progressSteps([ev(1, 'requested'), ev(2, 'key-generating'), ev(3, 'key-generated')]);
    expect(steps[1]!.at).toBe(ev(3, 'key-generated').at);
  });
});

describe('latestStatus', () => {
  it('is the status of the highest sequence', () => {
    expect(latestStatus([ev(2, 'key-generating'), ev(1, 'requested')])).toBe('key-generating');
    expect(latestStatus([])).toBeNull();
  });
});
