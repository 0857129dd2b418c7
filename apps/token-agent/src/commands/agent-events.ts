import type { MessageContract, MessageData } from '@thk/contracts';
import type { Logger } from '@thk/core';
import { createEnvelope, type MessagePublisher } from '@thk/messaging';
import type { AgentJournal, JournalEntry, StoredEvent } from '../journal/agent-journal.js';

export type EventSlot = 'generation' | 'generation-failure' | 'install' | 'install-failure' | 'destroy';

export const AGENT_SOURCE = 'token-agent';

function slotOf(entry: JournalEntry, slot: EventSlot): StoredEvent | undefined {
  switch (slot) {
    case 'generation': return entry.generation?.result;
    case 'generation-failure': return entry.generation?.failure;
    case 'install': return entry.install?.result;
    case 'install-failure': return entry.install?.failure;
    case 'destroy': return entry.destroy?.result;
    default: {
      const never: never = slot;
      throw new TypeError(`unknown slot ${String(never)}`);
    }
  }
}

/**
 * The agent's outbox without a database: an event is built once (validated against its contract,
 * with an id derived from its cause), stored in the journal, then published and marked. Publishing
 * the stored envelope again after a crash or a redelivery yields the same `Nats-Msg-Id`.
 */
export class AgentEvents {
  constructor(private readonly agentId: string, private readonly publisher: MessagePublisher, private readonly journal: AgentJournal, private readonly logger: Logger) {}

  build<C extends MessageContract<string, any, { agentId: string }>>(contract: C, data: MessageData<C>, meta: { id: string; correlationId: string; causationId: string | null; occurredAt?: Date }): StoredEvent {
    const envelope = createEnvelope(contract, data, { source: AGENT_SOURCE, ...meta });
    return { subject: contract.subject({ agentId: this.agentId }), envelope, published: false };
  }

  /** Publishes the event stored in `slot` of the request's entry and marks it published. */
  async publish(requestId: string, slot: EventSlot): Promise<void> {
    const entry = this.journal.get(requestId);
    const event = entry && slotOf(entry, slot);
    if (!entry || !event) throw new TypeError(`no ${slot} event stored for ${requestId}`);
    const ack = await this.publisher.publish(event.subject, event.envelope);
    this.logger.info({ requestId, type: event.envelope.type, id: event.envelope.id, duplicate: ack.duplicate }, 'published');
    if (!event.published) {
      await this.journal.update(requestId, entry.tokenSerial, (e) => {
        const stored = slotOf(e, slot);
        if (stored) stored.published = true;
      });
    }
  }

  /** Publishes whatever the journal holds unpublished (run at start, before consuming commands). */
  async publishPending(): Promise<number> {
    let count = 0;
    for (const pending of this.journal.unpublished()) {
      await this.publish(pending.requestId, pending.kind);
      count++;
    }
    return count;
  }
}
