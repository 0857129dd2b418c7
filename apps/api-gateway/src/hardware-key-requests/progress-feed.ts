import { randomUUID } from 'node:crypto';
import { DeliverPolicy, jetstream, type ConsumerMessages, type JsMsg } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import { envelopeSchema, formatIssues, HardwareKeyRequestProgressedV1, streams } from '@thk/contracts';
import type { Logger } from '@thk/core';
import type { ProgressEvent } from '../http/api-routes.js';

type Listener = (event: ProgressEvent) => void;

interface Entry {
  userId: string;
  events: Map<number, ProgressEvent>;
}

/** More states than any saga has (9 states, a step may repeat after a retry): a bound, not a rule. */
const MAX_EVENTS_PER_REQUEST = 64;

export const isTerminal = (status: ProgressEvent['status']): boolean => status === 'completed' || status === 'failed';

/**
 * Every progress event of the issuance saga, as this replica saw them. Each gateway replica
 * needs all of them (any replica may hold a client's stream), so this is an ordered, ephemeral
 * JetStream consumer per process rather than a shared durable. What happened before the process
 * started is reconstructed from `GetHardwareKeyRequest` by the stream itself. The buffer is
 * bounded: the least recently used requests are forgotten first.
 */
export class ProgressFeed {
  private readonly entries = new Map<string, Entry>();
  private readonly listeners = new Map<string, Set<Listener>>();
  private readonly decoder = new TextDecoder();
  private messages: ConsumerMessages | undefined;
  private loop: Promise<void> | undefined;
  private stopped = false;
  private healthy = false;

  constructor(private readonly nc: NatsConnection, private readonly log: Logger, private readonly maxRequests: number) {}

  async start(): Promise<void> {
    const js = jetstream(this.nc);
    const stream = streams.issuance.name;
    // Start right after the last message now in the stream; this also bounds a reset before the first message.
    const info = await (await js.jetstreamManager()).streams.info(stream);
    const consumer = await js.consumers.get(stream, {
      // Unique per process: replicas (pid 1 in every container) must not share an ordered consumer.
      name_prefix: `api-gateway-progress-${randomUUID().replace(/-/g, '').slice(0, 16)}`,
      filter_subjects: HardwareKeyRequestProgressedV1.subjectPattern,
      deliver_policy: DeliverPolicy.StartSequence,
      opt_start_seq: info.state.last_seq + 1,
    });
    const messages = await consumer.consume({ max_messages: 512 });
    this.messages = messages;
    this.healthy = true;
    void (async () => {
      for await (const s of messages.status()) {
        if (s.type === 'heartbeats_missed' || s.type === 'consumer_not_found' || s.type === 'stream_not_found') this.healthy = false;
        if (s.type === 'ordered_consumer_recreated') this.healthy = true;
      }
    })().catch(() => undefined);
    this.loop = (async () => {
      for await (const m of messages) {
        this.healthy = true;
        this.handle(m);
      }
    })().catch((error) => {
      if (!this.stopped) this.log.error({ err: error }, 'progress feed stopped');
      this.healthy = false;
    });
    this.log.info({ stream, filter: HardwareKeyRequestProgressedV1.subjectPattern, fromSeq: info.state.last_seq + 1 }, 'following progress events');
  }

  /** True while the consumer delivers (for readiness). */
  isConsuming(): boolean {
    return this.healthy && !this.stopped;
  }

  private handle(m: JsMsg): void {
    let json: unknown;
    try {
      json = JSON.parse(this.decoder.decode(m.data));
    } catch {
      this.log.warn({ subject: m.subject, seq: m.seq }, 'progress event is not JSON; ignored');
      return;
    }
    const envelope = envelopeSchema.safeParse(json);
    if (!envelope.success || envelope.data.type !== HardwareKeyRequestProgressedV1.type || envelope.data.version !== HardwareKeyRequestProgressedV1.version) {
      this.log.warn({ subject: m.subject, seq: m.seq }, 'not a HardwareKeyRequestProgressed v1 envelope; ignored');
      return;
    }
    const data = HardwareKeyRequestProgressedV1.schema.safeParse(envelope.data.data);
    if (!data.success) {
      this.log.warn({ subject: m.subject, seq: m.seq, issues: formatIssues(data.error) }, 'progress event fails its schema; ignored');
      return;
    }
    const { userId, ...event } = data.data;
    this.ingest(userId, event);
  }

  /** Records one event and hands it to the streams that follow its request. */
  ingest(userId: string, event: ProgressEvent): void {
    let entry = this.entries.get(event.requestId);
    if (entry) {
      this.entries.delete(event.requestId);
    } else {
      entry = { userId, events: new Map() };
      while (this.entries.size >= this.maxRequests) {
        const oldest = this.entries.keys().next().value;
        if (oldest === undefined) break;
        this.entries.delete(oldest);
      }
    }
    this.entries.set(event.requestId, entry);
    if (!entry.events.has(event.sequence) && entry.events.size < MAX_EVENTS_PER_REQUEST) entry.events.set(event.sequence, event);
    for (const listener of this.listeners.get(event.requestId) ?? []) listener(event);
  }

  /** What this replica has seen of a request, in sequence order (only to its owner). */
  snapshot(requestId: string, userId: string): ProgressEvent[] {
    const entry = this.entries.get(requestId);
    if (!entry || entry.userId !== userId) return [];
    return [...entry.events.values()].sort((a, b) => a.sequence - b.sequence);
  }

  /** Calls `listener` with each new event of the request until the returned function is called. */
  subscribe(requestId: string, listener: Listener): () => void {
    let set = this.listeners.get(requestId);
    if (!set) this.listeners.set(requestId, (set = new Set()));
    set.add(listener);
    return () => {
      set.delete(listener);
      if (set.size === 0 && this.listeners.get(requestId) === set) this.listeners.delete(requestId);
    };
  }

  get bufferedRequests(): number { return this.entries.size; }
  get followedRequests(): number { return this.listeners.size; }

  async stop(): Promise<void> {
    this.stopped = true;
    this.healthy = false;
    await this.messages?.close().catch(() => undefined);
    await this.loop;
  }
}
