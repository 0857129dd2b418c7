import type { DataSource, EntityManager } from 'typeorm';
import type { OutgoingMessage } from '@thk/messaging';

export const OUTBOX_CHANNEL = 'thk_outbox';

const INSERT_OUTBOX = `INSERT INTO outbox (message_id, subject, envelope)
  SELECT * FROM unnest($1::uuid[], $2::text[], $3::jsonb[])
  ON CONFLICT (message_id) DO NOTHING`;

export interface Transaction {
  manager: EntityManager;
  /** Queues a message to be published after (and only if) this transaction commits. */
  emit(message: OutgoingMessage): void;
}

export interface InboxKey {
  /** The consumer's name (its durable); one message may be processed once by each consumer. */
  consumer: string;
  messageId: string;
}

export type UnitOfWorkResult<T> = { applied: true; value: T } | { applied: false; reason: 'duplicate' };

/**
 * Publishes a committed transaction's messages at once (the outbox relay, `OutboxRelay.dispatch`).
 * Best effort: what it does not publish stays in the outbox for the relay's next round.
 */
export interface OutboxDispatcher {
  dispatch(messages: readonly OutgoingMessage[]): void;
}

/**
 * Writes a state change, the inbox mark of the message that caused it, and the messages it emits
 * in one transaction. A message already in the inbox is not applied again: the result says so and
 * the caller simply acknowledges it.
 */
export class UnitOfWork {
  private dispatcher: OutboxDispatcher | undefined;

  constructor(private readonly dataSource: DataSource) {}

  /**
   * Hands every committed transaction's messages to `dispatcher` right after the commit, instead of
   * waking the relays with NOTIFY and letting them claim the rows: three round trips fewer between a
   * commit and its publish. The rows are written all the same, so a crash before the publish loses
   * nothing (the relay's poll publishes them after its grace period).
   */
  dispatchTo(dispatcher: OutboxDispatcher): void {
    this.dispatcher = dispatcher;
  }

  async run<T>(work: (tx: Transaction) => Promise<T>, options: { inbox?: InboxKey } = {}): Promise<UnitOfWorkResult<T>> {
    const outgoing: OutgoingMessage[] = [];
    const dispatcher = this.dispatcher;
    const result = await this.dataSource.transaction(async (manager) => {
      if (options.inbox) {
        const inserted: unknown[] = await manager.query(
          'INSERT INTO inbox (consumer, message_id) VALUES ($1, $2) ON CONFLICT DO NOTHING RETURNING message_id',
          [options.inbox.consumer, options.inbox.messageId],
        );
        if (inserted.length === 0) return { applied: false, reason: 'duplicate' } as const;
      }
      const value = await work({ manager, emit: (m) => { outgoing.push(m); } });
      if (outgoing.length > 0) {
        const ids = outgoing.map((m) => m.envelope.id);
        const subjects = outgoing.map((m) => m.subject);
        const envelopes = outgoing.map((m) => JSON.stringify(m.envelope));
        // Without a dispatcher, the NOTIFY that relays LISTEN for goes in the same round trip (delivered
        // when, and only if, the transaction commits; a data-modifying CTE runs whether or not it is read).
        await manager.query(
          dispatcher ? INSERT_OUTBOX : `WITH queued AS (${INSERT_OUTBOX}) SELECT pg_notify('${OUTBOX_CHANNEL}', '')`,
          [ids, subjects, envelopes],
        );
      }
      return { applied: true, value } as const;
    });
    // Committed: only now may anything of it leave the process.
    if (dispatcher && result.applied && outgoing.length > 0) dispatcher.dispatch(outgoing);
    return result;
  }
}
