import { AckPolicy, DeliverPolicy, DiscardPolicy, JetStreamApiError, RetentionPolicy, StorageType, jetstreamManager, type JetStreamManager } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import { streams as systemStreams } from '@thk/contracts';

export interface StreamSpec {
  name: string;
  subjects: readonly string[];
  /** Max age of a message in ms (0: forever). */
  maxAgeMs?: number;
}

export interface ConsumerSpec {
  stream: string;
  durable: string;
  /** One filter subject (nats-server 2.9 has no `filter_subjects`). */
  filterSubject: string;
  /** Deliveries after which a failing message is dead-lettered by the consumer. */
  maxDeliver?: number;
  ackWaitMs?: number;
  /** How long a running handler keeps its message from redelivery (default 5 minutes). */
  maxHandlerMs?: number;
  /** Messages handled at once by one replica. */
  concurrency?: number;
}

export interface ProvisioningOptions {
  /** 1 on one server, 3 in a cluster. */
  replicas?: number;
  /** Window in which JetStream de-duplicates by `Nats-Msg-Id`. */
  duplicateWindowMs?: number;
}

const ns = (ms: number) => ms * 1_000_000;
export const DEFAULT_MAX_DELIVER = 8;
export const DEFAULT_ACK_WAIT_MS = 30_000;

/** The system's streams: events and commands kept a week, dead letters a month. */
export function defaultStreamSpecs(): StreamSpec[] {
  const week = 7 * 24 * 3_600_000;
  return Object.values(systemStreams).map((s) => ({ name: s.name, subjects: s.subjects, maxAgeMs: s.name === 'DEAD_LETTERS' ? 30 * 24 * 3_600_000 : week }));
}

function isNotFound(error: unknown): boolean {
  return error instanceof JetStreamApiError && (error.code === 404 || error.apiError().err_code === 10059 || error.apiError().err_code === 10014);
}

/** Creates or updates streams so that start-up is idempotent (safe to run from every replica). */
export async function provisionStreams(nc: NatsConnection, specs: StreamSpec[] = defaultStreamSpecs(), options: ProvisioningOptions = {}): Promise<JetStreamManager> {
  const jsm = await jetstreamManager(nc);
  // NATS_STREAM_REPLICAS=3 in a cluster (docker/compose.yaml); 1 on a single server.
  const replicas = options.replicas ?? Number(process.env['NATS_STREAM_REPLICAS'] ?? 1);
  for (const spec of specs) {
    const config = {
      name: spec.name,
      subjects: [...spec.subjects],
      storage: StorageType.File,
      retention: RetentionPolicy.Limits,
      discard: DiscardPolicy.Old,
      num_replicas: replicas,
      max_age: ns(spec.maxAgeMs ?? 0),
      duplicate_window: ns(options.duplicateWindowMs ?? 120_000),
    };
    try {
      await jsm.streams.info(spec.name);
      await jsm.streams.update(spec.name, { subjects: config.subjects, max_age: config.max_age, num_replicas: replicas, duplicate_window: config.duplicate_window });
    } catch (error) {
      if (!isNotFound(error)) throw error;
      try {
        await jsm.streams.add(config);
      } catch (addError) {
        // Another replica created it between our info and add.
        if (!(addError instanceof JetStreamApiError && addError.apiError().err_code === 10058)) throw addError;
      }
    }
  }
  return jsm;
}

/** Creates or updates a durable pull consumer with explicit acks. */
export async function provisionConsumer(jsm: JetStreamManager, spec: ConsumerSpec): Promise<void> {
  const maxDeliver = spec.maxDeliver ?? DEFAULT_MAX_DELIVER;
  const config = {
    durable_name: spec.durable,
    ack_policy: AckPolicy.Explicit,
    deliver_policy: DeliverPolicy.All,
    filter_subject: spec.filterSubject,
    // One more than ours: a failing message is dead-lettered on delivery maxDeliver, and one whose
    // deliveries all ended without an outcome (crash, hang) on delivery maxDeliver + 1, before its
    // handler runs; the server's limit never drops a message silently.
    max_deliver: maxDeliver + 1,
    ack_wait: ns(spec.ackWaitMs ?? DEFAULT_ACK_WAIT_MS),
    max_ack_pending: 1_000,
  };
  try {
    await jsm.consumers.info(spec.stream, spec.durable);
    await jsm.consumers.update(spec.stream, spec.durable, { max_deliver: config.max_deliver, ack_wait: config.ack_wait, max_ack_pending: config.max_ack_pending });
  } catch (error) {
    if (!isNotFound(error)) throw error;
    try {
      await jsm.consumers.add(spec.stream, config);
    } catch (addError) {
      // Created concurrently by another replica: same config, fine.
      if (!(addError instanceof JetStreamApiError && [10013, 10148].includes(addError.apiError().err_code))) throw addError;
    }
  }
}
