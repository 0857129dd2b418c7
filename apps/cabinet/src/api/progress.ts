// Follows a hardware key request's progress stream (`GET …/events`, SSE) until `completed` or
// `failed`, reconnecting with Last-Event-ID when the connection drops or the server closes it early.
import { ApiError, type ApiClient } from './client.js';
import { SseParser } from './sse.js';
import type { ProgressEvent } from './types.js';

export const isTerminal = (status: string): boolean => status === 'completed' || status === 'failed';

export interface FollowOptions {
  signal?: AbortSignal;
  /** Reconnection attempts in a row without any new event before giving up. */
  maxReconnects?: number;
  sleep?: (ms: number) => Promise<void>;
}

const defaultSleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

export async function followProgress(
  client: ApiClient,
  requestId: string,
  onEvent: (event: ProgressEvent) => void,
  options: FollowOptions = {},
): Promise<ProgressEvent> {
  const sleep = options.sleep ?? defaultSleep;
  const maxReconnects = options.maxReconnects ?? 8;
  let lastId = 0;
  let last: ProgressEvent | null = null;
  let failures = 0;
  let retryMs = 2_000;
  for (;;) {
    options.signal?.throwIfAborted();
    let progressed = false;
    try {
      const res = await client.request(`/v1/hardware-key-requests/${encodeURIComponent(requestId)}/events`, {
        headers: { accept: 'text/event-stream', ...(lastId > 0 ? { 'last-event-id': String(lastId) } : {}) },
        signal: options.signal,
        cache: 'no-store',
      });
      const parser = new SseParser();
      const reader = res.body!.pipeThrough(new TextDecoderStream()).getReader();
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        for (const message of parser.push(value)) {
          const event = JSON.parse(message.data) as ProgressEvent;
          if (event.sequence <= lastId) continue;
          lastId = event.sequence;
          last = event;
          progressed = true;
          onEvent(event);
          if (isTerminal(event.status)) {
            await reader.cancel().catch(() => undefined);
            return event;
          }
        }
        if (parser.retryMs !== null) retryMs = parser.retryMs;
      }
    } catch (error) {
      if ((error as Error).name === 'AbortError') throw error;
      // A refusal (404, 401…) will not get better by retrying.
      if (error instanceof ApiError && error.code !== 'network' && error.status !== 503 && error.status !== 429) throw error;
    }
    failures = progressed ? 0 : failures + 1;
    if (failures > maxReconnects) {
      throw new ApiError({ status: 0, code: 'progress-lost', detail: last ? `last status ${last.status}` : 'no event received' });
    }
    await sleep(Math.min(retryMs * Math.max(1, failures), 15_000));
  }
}
