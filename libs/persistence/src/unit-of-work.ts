import { createHash } from 'node:crypto';
import type pg from 'pg';
import type { DataSource, EntityManager } from 'typeorm';
import type { OutgoingMessage } from '@thk/messaging';

export const OUTBOX_CHANNEL = 'thk_outbox';

const INSERT_INBOX = 'INSERT INTO inbox (consumer, message_id) VALUES ($1, $2) ON CONFLICT DO NOTHING RETURNING message_id';

/**
 * The outbox rows of a unit of work from parameters `$first`, `$first + 1`, `$first + 2` (ids, subjects,
 * envelopes; `outboxParams`). With `gate`, the name of a CTE of the same statement: only when that CTE
 * returned a row.
 */
function insertOutbox(first: number, gate?: string): string {
  return `INSERT INTO outbox (message_id, subject, envelope)
  SELECT * FROM unnest($${first}::uuid[], $${first + 1}::text[], $${first + 2}::jsonb[])${gate ? `
  WHERE EXISTS (SELECT 1 FROM ${gate})` : ''}
  ON CONFLICT (message_id) DO NOTHING`;
}

const INSERT_OUTBOX = insertOutbox(1);

function outboxParams(messages: readonly OutgoingMessage[]): [string[], string[], string[]] {
  return [messages.map((m) => m.envelope.id), messages.map((m) => m.subject), messages.map((m) => JSON.stringify(m.envelope))];
}

/**
 * The prepared statement's name of each text run prepared: a named statement is parsed and planned once
 * per connection instead of at every run (~0.15 ms of the ~0.7 a saga step's statement takes alone). The
 * texts must come from the code, a fixed few (values always as parameters): each text is one statement
 * kept on every connection that ran it.
 */
const statementNames = new Map<string, string>();
function prepared(sql: string, values: unknown[] | undefined): pg.QueryConfig {
  let name = statementNames.get(sql);
  if (name === undefined) {
    name = `uow_${createHash('sha256').update(sql).digest('hex').slice(0, 24)}`;
    statementNames.set(sql, name);
  }
  return { name, text: sql, ...(values ? { values } : {}) };
}

/**
 * Runs `sql` as a prepared statement on `dataSource`'s pg pool (one connection, autocommit) and answers its
 * rows, for every statement (`DataSource.query` answers an `UPDATE`'s or `DELETE`'s as `[rows, count]`).
 * For the statements of the hot paths: parsed and planned once per connection, not at every run, and
 * without TypeORM's query runner around it. PostgreSQL only.
 */
export async function queryPrepared(dataSource: DataSource, sql: string, params: unknown[]): Promise<any[]> {
  // TypeORM's Postgres driver keeps its pg pool as `master` (untyped).
  const pool = (dataSource.driver as unknown as { master: pg.Pool }).master;
  return (await pool.query(prepared(sql, params))).rows;
}

/** Whether an error is the inbox's primary key refusing a mark that is there already. */
function isInboxConflict(error: unknown): boolean {
  // pg's DatabaseError, and TypeORM's QueryFailedError, carry the server's fields (`code`, `constraint`) on themselves.
  const e = error as { code?: unknown; constraint?: unknown };
  return e.code === '23505' && e.constraint === 'inbox_pkey';
}

/** Runs SQL and answers its rows (a `SELECT`'s, or a data-modifying statement's `RETURNING`). */
export interface Queryable {
  query(sql: string, params?: unknown[]): Promise<any[]>;
}

export interface Transaction {
  manager: EntityManager;
  /**
   * The transaction's connection, for plain SQL on the hot paths: each text is prepared once per
   * connection (`manager.query` parses and plans it at every run). It answers rows for every statement,
   * where `manager.query` answers an `UPDATE`'s or `DELETE`'s as `[rows, count]`.
   */
  sql: Queryable;
  /** Queues a message to be published after (and only if) this transaction commits. */
  emit(message: OutgoingMessage): void;
}

export interface InboxKey {
  /** The consumer's name (its durable); one message may be processed once by each consumer. */
  consumer: string;
  messageId: string;
}

export type UnitOfWorkResult<T> = { applied: true; value: T } | { applied: false; reason: 'duplicate' };

/** One data-modifying statement with `RETURNING` (an `INSERT`, `UPDATE` or `DELETE`, not a `WITH`) on `$1…$n`. */
export interface GateStatement {
  sql: string;
  params: readonly unknown[];
}

/**
 * What `runStatement` wrote: `written`, the gate returned a row, and it, the inbox mark and the outbox rows
 * were committed together; `unmatched`, the gate returned no row and nothing at all was written;
 * `duplicate`, the inbox held the mark already and nothing at all was written.
 */
export type StatementResult = 'written' | 'unmatched' | 'duplicate';

/**
 * Publishes a committed transaction's messages at once (the outbox relay, `OutboxRelay.dispatch`).
 * Best effort: what it does not publish stays in the outbox for the relay's next round.
 */
export interface OutboxDispatcher {
  dispatch(messages: readonly OutgoingMessage[]): void;
}

/**
 * Writes a state change, the inbox mark of the message that caused it, and the messages it emits
 * in one transaction (`run`), or in one statement when the change is one statement (`runStatement`).
 * A message already in the inbox is not applied again: the result says so and the caller simply
 * acknowledges it. PostgreSQL only (its statements are prepared on the data source's pg connections).
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
      const sql = await this.connectionOf(manager);
      if (options.inbox) {
        const inserted = await sql.query(INSERT_INBOX, [options.inbox.consumer, options.inbox.messageId]);
        if (inserted.length === 0) return { applied: false, reason: 'duplicate' } as const;
      }
      const value = await work({ manager, sql, emit: (m) => { outgoing.push(m); } });
      if (outgoing.length > 0) {
        // Without a dispatcher, the NOTIFY that relays LISTEN for goes in the same round trip (delivered
        // when, and only if, the transaction commits; a data-modifying CTE runs whether or not it is read).
        await sql.query(
          dispatcher ? INSERT_OUTBOX : `WITH queued AS (${INSERT_OUTBOX}) SELECT pg_notify('${OUTBOX_CHANNEL}', '')`,
          outboxParams(outgoing),
        );
      }
      return { applied: true, value } as const;
    });
    // Committed: only now may anything of it leave the process.
    if (dispatcher && result.applied && outgoing.length > 0) dispatcher.dispatch(outgoing);
    return result;
  }

  /**
   * The same unit of work as `run` in ONE statement, for a change that is a single `gate` statement (an
   * optimistic `UPDATE … WHERE version = $loaded RETURNING …`, an `INSERT … ON CONFLICT DO NOTHING
   * RETURNING …`): the gate, then the inbox mark and the outbox rows only if the gate returned a row, as
   * data-modifying CTEs of one statement. A statement is atomic on its own (autocommit): no BEGIN/COMMIT,
   * the change, the mark and the rows in one round trip, and no connection held across the caller's work.
   * Committed, the messages are dispatched (or NOTIFY is sent) exactly as after `run`'s commit.
   *
   * The mark is inserted without `ON CONFLICT`: a mark that is there already was written by a delivery
   * of the same message that the gate could not stop (one whose handling wrote the mark alone,
   * `markProcessed`), and its unique violation aborts the whole statement, gate included: `duplicate`,
   * nothing written. (`ON CONFLICT DO NOTHING` would keep the gate's change without its mark: one message
   * applied twice.) That takes deliveries that decided differently, so it is rare. Where the gate is what races (two deliveries updating
   * one version), the loser's gate matches nothing and no mark is even tried: `unmatched`.
   */
  async runStatement(gate: GateStatement, options: { inbox?: InboxKey; emit?: readonly OutgoingMessage[] } = {}): Promise<StatementResult> {
    const outgoing = options.emit ?? [];
    const dispatcher = this.dispatcher;
    const params = [...gate.params];
    const ctes = [`gate AS (${gate.sql})`];
    if (options.inbox) {
      params.push(options.inbox.consumer, options.inbox.messageId);
      ctes.push(`marked AS (INSERT INTO inbox (consumer, message_id) SELECT $${params.length - 1}::text, $${params.length}::uuid WHERE EXISTS (SELECT 1 FROM gate))`);
    }
    if (outgoing.length > 0) {
      params.push(...outboxParams(outgoing));
      ctes.push(`queued AS (${insertOutbox(params.length - 2, 'gate')})`);
    }
    // Data-modifying CTEs run to completion whether or not the final SELECT reads them; the NOTIFY is
    // delivered when, and only if, the statement commits, and only when it queued rows.
    const notify = !dispatcher && outgoing.length > 0 ? `, (SELECT pg_notify('${OUTBOX_CHANNEL}', '') FROM gate LIMIT 1) AS notified` : '';
    let rows: Array<{ written: boolean }>;
    try {
      rows = await this.statement(`WITH ${ctes.join(',\n')}\nSELECT EXISTS (SELECT 1 FROM gate) AS written${notify}`, params) as Array<{ written: boolean }>;
    } catch (error) {
      if (isInboxConflict(error)) return 'duplicate';
      throw error;
    }
    if (!rows[0]?.written) return 'unmatched';
    // Committed: only now may anything of it leave the process.
    if (dispatcher && outgoing.length > 0) dispatcher.dispatch(outgoing);
    return 'written';
  }

  /** Runs `runStatement`'s one statement (`queryPrepared`). Subclasses that test interleavings hold it open. */
  protected statement(sql: string, params: unknown[]): Promise<unknown[]> {
    return queryPrepared(this.dataSource, sql, params);
  }

  /** `Transaction.sql`: the pg connection that TypeORM's transaction holds (its runner's), with prepared statements. */
  private async connectionOf(manager: EntityManager): Promise<Queryable> {
    // The runner is connected already (it began the transaction): this answers its connection.
    const client = await manager.queryRunner!.connect() as pg.PoolClient;
    return { query: async (sql, params) => (await client.query(prepared(sql, params))).rows };
  }

  /**
   * Writes the inbox mark alone, for a message whose handling changes nothing (a saga that ignores it):
   * its redelivery is then a duplicate. False when the mark was there already, i.e. this delivery is the
   * duplicate. One statement, no transaction.
   */
  async markProcessed(inbox: InboxKey): Promise<boolean> {
    const inserted = await this.statement(INSERT_INBOX, [inbox.consumer, inbox.messageId]);
    return inserted.length > 0;
  }
}
