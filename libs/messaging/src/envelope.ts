import { randomUUID } from 'node:crypto';
import type { Envelope, MessageContract, MessageData } from '@thk/contracts';
import { formatIssues } from '@thk/contracts';
import { AppError } from '@thk/core';

export interface EnvelopeMeta {
  source: string;
  correlationId: string;
  causationId?: string | null;
  /** Fix the id to make a re-emission de-duplicate (e.g. derived from the causing message). */
  id?: string;
  occurredAt?: Date;
}

/**
 * Wraps data in the envelope after validating it against its contract: a service never emits
 * a message that its consumers would dead-letter.
 */
export function createEnvelope<C extends MessageContract<string, any, any>>(contract: C, data: MessageData<C>, meta: EnvelopeMeta): Envelope<MessageData<C>> {
  const parsed = contract.schema.safeParse(data);
  if (!parsed.success) {
    throw new AppError('messaging.invalid-outgoing-message', `${contract.type} v${contract.version} does not match its schema: ${formatIssues(parsed.error)}`);
  }
  return {
    id: meta.id ?? randomUUID(),
    type: contract.type,
    version: contract.version,
    occurredAt: (meta.occurredAt ?? new Date()).toISOString(),
    correlationId: meta.correlationId,
    causationId: meta.causationId ?? null,
    source: meta.source,
    data: parsed.data as MessageData<C>,
  };
}

/** An outgoing message: its subject and envelope (what an outbox row holds). */
export interface OutgoingMessage {
  subject: string;
  envelope: Envelope;
}
