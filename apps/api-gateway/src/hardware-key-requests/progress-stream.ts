import type { HardwareKeyRequestView } from '@thk/contracts';
import type { ProgressEvent } from '../http/api-routes.js';
import { isTerminal } from './progress-feed.js';

/** `GetHardwareKeyRequest`'s steps as progress events: step i is the event with sequence i + 1. */
export function eventsFromView(view: HardwareKeyRequestView): ProgressEvent[] {
  return view.steps.map((step, i) => ({
    requestId: view.requestId,
    sequence: i + 1,
    status: step.state,
    at: step.at,
    keyId: step.state === 'completed' ? view.keyId : null,
    failure: step.state === 'failed' ? view.failure : null,
  }));
}

export interface ProgressStreamSink {
  write(event: ProgressEvent): void;
  end(): void;
}

/**
 * The ordering logic of one SSE connection: events go out once each, in sequence order, starting
 * after `lastEventId`; the stream ends after a terminal event. Events may arrive from the live
 * feed, this replica's buffer and the history query in any order and more than once. A gap
 * (an event arrived whose predecessor was never seen, e.g. published while this replica was not
 * yet consuming) is filled from the history query; if the history cannot fill it, the stream
 * moves on rather than stall.
 */
export class ProgressStream {
  private sent: number;
  private readonly pending = new Map<number, ProgressEvent>();
  private closed = false;
  private filling: Promise<void> | undefined;

  constructor(
    lastEventId: number,
    private readonly sink: ProgressStreamSink,
    private readonly fetchHistory: () => Promise<ProgressEvent[]>,
  ) {
    this.sent = lastEventId;
  }

  get isClosed(): boolean { return this.closed; }
  get lastSent(): number { return this.sent; }

  offer(events: Iterable<ProgressEvent>): void {
    if (this.closed) return;
    for (const e of events) if (e.sequence > this.sent && !this.pending.has(e.sequence)) this.pending.set(e.sequence, e);
    this.flush();
  }

  /** The client already saw the terminal event (resumed past it): nothing is left to send. */
  endIfFinished(history: ProgressEvent[]): void {
    const terminal = history.find((e) => isTerminal(e.status));
    if (terminal && this.sent >= terminal.sequence) this.close();
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.pending.clear();
    this.sink.end();
  }

  private flush(): void {
    while (!this.closed) {
      const next = this.pending.get(this.sent + 1);
      if (!next) break;
      this.pending.delete(next.sequence);
      this.sent = next.sequence;
      this.sink.write(next);
      if (isTerminal(next.status)) {
        this.close();
        return;
      }
    }
    if (!this.closed && this.pending.size > 0) this.fillGap();
  }

  private fillGap(): void {
    if (this.filling) return;
    this.filling = this.fetchHistory()
      .then((history) => this.offerMissing(history), () => undefined)
      .finally(() => {
        this.filling = undefined;
        if (this.closed || this.pending.size === 0 || this.pending.has(this.sent + 1)) return;
        // The history does not know the missing events either: skip to the next one we have.
        this.sent = Math.min(...this.pending.keys()) - 1;
        this.flush();
      });
  }

  private offerMissing(history: ProgressEvent[]): void {
    for (const e of history) if (e.sequence > this.sent && !this.pending.has(e.sequence)) this.pending.set(e.sequence, e);
    this.flush();
  }
}
