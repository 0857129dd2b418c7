import { ApiClient, ApiError } from './client.js';
import { followProgress } from './progress.js';
import type { ProgressEvent, RequestStatus } from './types.js';

const REQUEST = '00000000-0000-4000-8000-000000000001';
const ev = (sequence: number, status: RequestStatus): ProgressEvent => ({
  requestId: REQUEST, sequence, status, at: '2021-08-25T13:59:00.000Z', keyId: status === 'completed' ? '00000000-0000-4000-8000-0000000000aa' : null, failure: null,
});
const frame = (e: ProgressEvent) => `id: ${e.sequence}\ndata: ${JSON.stringify(e)}\n\n`;

/** A gateway stand-in: each call answers the next scripted SSE body (chunks) and records the request. */
function scriptedGateway(script: Array<string[] | { status: number; body: unknown }>) {
  const calls: { url: string; headers: Headers }[] = [];
  const fetchImpl = (async (input: RequestInfo | URL, init?: RequestInit) => {
    calls.push({ url: String(input), headers: new Headers(init?.headers) });
    const next = script.shift();
    if (!next) throw new TypeError('connection refused');
    if (!Array.isArray(next)) return new Response(JSON.stringify(next.body), { status: next.status, headers: { 'content-type': 'application/problem+json' } });
    const encoder = new TextEncoder();
    const body = new ReadableStream<Uint8Array>({ start(c) { for (const chunk of next) c.enqueue(encoder.encode(chunk)); c.close(); } });
    return new Response(body, { status: 200, headers: { 'content-type': 'text/event-stream' } });
  }) as typeof fetch;
  const client = new ApiClient({ getToken: () => 'token-1', fetch: fetchImpl });
  return { client, calls };
}

const noSleep = async () => undefined;

describe('followProgress', () => {
  it('delivers each event once, in order, and ends at completed', async () => {
    const { client, calls } = scriptedGateway([[`retry: 2000\n\n${frame(ev(1, 'requested'))}${frame(ev(2, 'key-generating')).slice(0, 9)}`, `${frame(ev(2, 'key-generating')).slice(9)}: keep-alive\n\n${frame(ev(3, 'completed'))}`]]);
    const seen: number[] = [];
    const last = await followProgress(client, REQUEST, (e) => seen.push(e.sequence), { sleep: noSleep });
    expect(seen).toEqual([1, 2, 3]);
    expect(last.status).toBe('completed');
    expect(calls[0]!.url).toBe(`/v1/hardware-key-requests/${REQUEST}/events`);
    expect(calls[0]!.headers.get('authorization')).toBe('Bearer token-1');
    expect(calls[0]!.headers.get('last-event-id')).toBeNull();
  });

  it('reconnects with Last-Event-ID when the stream closes early, and skips what it already saw', async () => {
    const { client, calls } = scriptedGateway([
      [frame(ev(1, 'requested')), frame(ev(2, 'key-generating'))],
      [frame(ev(2, 'key-generating')), frame(ev(3, 'key-generated')), frame(ev(4, 'compensating')), frame(ev(5, 'failed'))],
    ]);
    const seen: number[] = [];
    const last = await followProgress(client, REQUEST, (e) => seen.push(e.sequence), { sleep: noSleep });
    expect(seen).toEqual([1, 2, 3, 4, 5]);
    expect(last.status).toBe('failed');
    expect(calls).toHaveLength(2);
    expect(calls[1]!.headers.get('last-event-id')).toBe('2');
  });

  it('retries a dropped connection and gives up after the configured attempts without news', async () => {
    const { client, calls } = scriptedGateway([[frame(ev(1, 'requested'))]]);
    await expect(followProgress(client, REQUEST, () => undefined, { sleep: noSleep, maxReconnects: 2 })).rejects.toMatchObject({ code: 'progress-lost' });
    expect(calls).toHaveLength(4);
  });

  it('does not retry a refusal such as another user\'s request (404)', async () => {
    const { client, calls } = scriptedGateway([{ status: 404, body: { type: 'urn:thk:problem:not-found', title: 'Not found', status: 404, detail: 'x', code: 'not-found' } }]);
    const error = await followProgress(client, REQUEST, () => undefined, { sleep: noSleep }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ApiError);
    expect((error as ApiError).code).toBe('not-found');
    expect(calls).toHaveLength(1);
  });
});
