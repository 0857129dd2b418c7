import { jetstream, type JetStreamClient } from '@nats-io/jetstream';
import { headers, type NatsConnection } from '@nats-io/transport-node';
import type { Envelope, MessageContract, MessageData } from '@thk/contracts';
import { AppError } from '@thk/core';
import { createEnvelope, type EnvelopeMeta } from './envelope.js';

export const TYPE_HEADER = 'Thk-Type';

export interface PublishResult { stream: string; seq: number; duplicate: boolean }

/** Publishes envelopes to JetStream with `Nats-Msg-Id` = envelope id, so a re-publish is absorbed. */
export class MessagePublisher {
  private readonly js: JetStreamClient;
  private readonly encoder = new TextEncoder();

  constructor(nc: NatsConnection, private readonly timeoutMs = 5_000) {
    this.js = jetstream(nc, { timeout: timeoutMs });
  }

  async publish(subject: string, envelope: Envelope): Promise<PublishResult> {
    const h = headers();
    h.set(TYPE_HEADER, `${envelope.type}@${envelope.version}`);
    try {
      const ack = await this.js.publish(subject, this.encoder.encode(JSON.stringify(envelope)), { msgID: envelope.id, headers: h, timeout: this.timeoutMs });
      return { stream: ack.stream, seq: ack.seq, duplicate: ack.duplicate };
    } catch (error) {
      throw new AppError('messaging.publish-failed', `could not publish ${envelope.type} to ${subject}: ${(error as Error).message}`, { retryable: true, cause: error });
    }
  }

  /** Builds, validates and publishes one message (for processes without an outbox, such as the token agent). */
  async emit<C extends MessageContract<string, any, any>>(contract: C, params: Parameters<C['subject']>[0], data: MessageData<C>, meta: EnvelopeMeta): Promise<Envelope<MessageData<C>>> {
    const envelope = createEnvelope(contract, data, meta);
    await this.publish(contract.subject(params as never), envelope);
    return envelope;
  }
}
