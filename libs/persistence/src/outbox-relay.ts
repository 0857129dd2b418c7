import pg from 'pg';
import type { Envelope } from '@thk/contracts';
import { createLogger, type Logger } from '@thk/core';
import type { MessagePublisher, OutgoingMessage } from '@thk/messaging';
import { OUTBOX_CHANNEL, type OutboxDispatcher, type UnitOfWork } from './unit-of-work.js';

export interface OutboxRelayOptions {
  databaseUrl: string;
  publisher: MessagePublisher;
  /** Rows claimed per round. */
  batchSize?: number;
  /** Fallback poll when no NOTIFY arrives (another process crashed mid-publish, a missed notification). */
  pollIntervalMs?: number;
  /** Published rows older than this are deleted (JetStream de-duplicates within its own window). */
  retainPublishedMs?: number;
  /** Inbox rows older than this are deleted; keep it longer than the streams' max age. */
  retainInboxMs?: number;
  /**
   * With `serve(uow)`: how old an unpublished row must be before a round claims it. Younger rows are
   * being published by the transaction's own process right after its commit (`dispatch`).
   */
  dispatchGraceMs?: number;
  /**
   * With `serve(uow)`: how long the ids of dispatched messages are gathered before one UPDATE marks
   * them published (default 100 ms, well inside the grace period). One commit for a burst instead of
   * one per transaction: fewer WAL flushes competing with the transactions that matter.
   */
  markDelayMs?: number;
  logger?: Logger;
  ssl?: pg.ClientConfig['ssl'];
}

/** Ids that are marked at once rather than after `markDelayMs` (a burst under load). */
const MARK_BATCH = 500;

interface OutboxRow { seq: string; message_id: string; subject: string; envelope: Envelope }

/**
 * Publishes committed outbox rows to JetStream with `Nats-Msg-Id` = message id, then marks them.
 * Rows are claimed with `FOR UPDATE SKIP LOCKED`, so several replicas share the work without
 * publishing a row twice; a crash between publish and mark re-publishes, and JetStream's
 * de-duplication absorbs it.
 */
export class OutboxRelay implements OutboxDispatcher {
  private pool: pg.Pool;
  private graceMs = 0;
  private readonly dispatching = new Set<Promise<void>>();
  /** Dispatched and published, not yet marked (`markDispatched`). */
  private readonly unmarked = new Set<string>();
  private markTimer: NodeJS.Timeout | undefined;
  private marking: Promise<void> = Promise.resolve();
  private listener: pg.Client | undefined;
  private timer: NodeJS.Timeout | undefined;
  private running = false;
  private pending = false;
  private draining: Promise<void> = Promise.resolve();
  private stopped = false;
  private lastPurge = 0;
  private readonly log: Logger;
  published = 0;

  constructor(private readonly options: OutboxRelayOptions) {
    this.pool = new pg.Pool({ connectionString: options.databaseUrl, max: 2, application_name: 'outbox-relay', ...(options.ssl ? { ssl: options.ssl } : {}) });
    this.log = options.logger ?? createLogger('outbox-relay');
    // An idle pooled connection that the server closes (restart, failover) must not crash the process.
    this.pool.on('error', (error) => this.log.warn({ err: error }, 'outbox relay connection lost; it reconnects on the next round'));
  }

  async start(): Promise<void> {
    // Serving a unit of work, nothing NOTIFYs (its commits are dispatched): the poll is the only wake-up needed.
    if (!this.graceMs) await this.listen();
    const poll = () => {
      if (this.stopped) return;
      this.kick();
      this.timer = setTimeout(poll, this.options.pollIntervalMs ?? 1_000);
      this.timer.unref();
    };
    poll();
  }

  /** LISTENs for commits; a lost connection is re-opened (the poll covers the gap). */
  private async listen(): Promise<void> {
    const client = new pg.Client({ connectionString: this.options.databaseUrl, application_name: 'outbox-listener', ...(this.options.ssl ? { ssl: this.options.ssl } : {}) });
    client.on('notification', () => this.kick());
    client.on('error', (error) => this.log.warn({ err: error }, 'outbox listener connection lost; polling until it is back'));
    const reconnect = (): void => {
      if (this.stopped) return;
      setTimeout(() => {
        this.listen().catch((error) => { this.log.warn({ err: error }, 'outbox listener could not reconnect; will retry'); reconnect(); });
      }, 1_000).unref();
    };
    client.on('end', reconnect);
    await client.connect();
    await client.query(`LISTEN ${OUTBOX_CHANNEL}`);
    this.listener = client;
  }

  /**
   * Publishes the messages of `uow`'s transactions right after each commit (`dispatch`), and claims
   * in its rounds only rows older than the grace period: those a dispatch did not publish (it failed,
   * or the process stopped in between). Call before `start`.
   */
  serve(uow: UnitOfWork): this {
    this.graceMs = this.options.dispatchGraceMs ?? 2_000;
    uow.dispatchTo(this);
    return this;
  }

  /** Publishes a committed transaction's messages now and marks them; a failure leaves them to a later round. */
  dispatch(messages: readonly OutgoingMessage[]): void {
    if (this.stopped || messages.length === 0) return;
    const done = this.publishNow(messages).catch((error: unknown) => {
      this.log.warn({ err: error }, 'publishing right after commit failed; the relay publishes the rows later');
    });
    this.dispatching.add(done);
    void done.finally(() => this.dispatching.delete(done));
  }

  private async publishNow(messages: readonly OutgoingMessage[]): Promise<void> {
    const { ok, failed } = await this.publishAll(messages);
    if (ok.length) {
      for (const i of ok) this.unmarked.add(messages[i]!.envelope.id);
      this.published += ok.length;
      if (this.unmarked.size >= MARK_BATCH) this.markDispatched();
      else this.markTimer ??= setTimeout(() => this.markDispatched(), this.options.markDelayMs ?? 100).unref();
    }
    if (failed.length) this.log.warn({ failed: failed.length, first: failed[0]!.error }, 'some messages could not be published after commit; the relay retries them');
  }

  /**
   * Marks what was dispatched since the last mark, in one statement. Until then a row is published
   * but unmarked, which no round claims (it is younger than the grace period); a mark that fails, or
   * a stop before it, leaves the rows to a later round, whose re-publish JetStream de-duplicates.
   */
  private markDispatched(): void {
    clearTimeout(this.markTimer);
    this.markTimer = undefined;
    if (this.unmarked.size === 0) return;
    const ids = [...this.unmarked];
    this.unmarked.clear();
    this.marking = this.marking.then(() => this.pool.query('UPDATE outbox SET published_at = now(), attempts = attempts + 1 WHERE message_id = ANY($1::uuid[]) AND published_at IS NULL', [ids]))
      .then(() => undefined, (error: unknown) => { this.log.warn({ err: error }, 'marking dispatched messages failed; the relay publishes them again later (de-duplicated)'); });
  }

  /** Publishes in order, fired together (each awaits its PubAck); answers which indexes went out and which failed, with why. */
  private async publishAll(messages: ReadonlyArray<{ subject: string; envelope: Envelope }>): Promise<{ ok: number[]; failed: Array<{ index: number; error: string }> }> {
    const results = await Promise.allSettled(messages.map((m) => this.options.publisher.publish(m.subject, m.envelope)));
    const ok: number[] = [];
    const failed: Array<{ index: number; error: string }> = [];
    results.forEach((res, index) => {
      if (res.status === 'fulfilled') ok.push(index);
      else failed.push({ index, error: String((res.reason as Error)?.message ?? res.reason).slice(0, 500) });
    });
    return { ok, failed };
  }

  /** Asks for a drain; coalesces bursts of notifications into one running loop. */
  kick(): void {
    if (this.stopped) return;
    if (this.running) { this.pending = true; return; }
    this.running = true;
    this.draining = this.drain().finally(() => {
      this.running = false;
      if (this.pending && !this.stopped) { this.pending = false; this.kick(); }
    });
  }

  private async drain(): Promise<void> {
    try {
      for (;;) {
        const n = await this.relayBatch();
        if (n < (this.options.batchSize ?? 100)) break;
      }
      await this.purgeIfDue();
    } catch (error) {
      this.log.warn({ err: error }, 'outbox relay round failed; will retry');
    }
  }

  /** Claims, publishes and marks one batch; returns how many rows it claimed. */
  async relayBatch(): Promise<number> {
    const client = await this.pool.connect();
    // A checked-out client reports a dropped connection as an 'error' event of its own (the pool's
    // handler covers idle ones only); the pending query rejects and the round is retried.
    let broken: Error | undefined;
    const onError = (error: Error) => { broken = error; this.log.warn({ err: error }, 'outbox relay connection lost mid-round; retrying'); };
    client.on('error', onError);
    try {
      await client.query('BEGIN');
      const { rows } = await client.query<OutboxRow>(
        // Rows younger than the grace period are being dispatched by their own process (`serve`); with
        // no grace (0) every committed row qualifies: `created_at` is its transaction's start, before now.
        `SELECT seq, message_id, subject, envelope FROM outbox
          WHERE published_at IS NULL AND created_at <= clock_timestamp() - ($2::bigint * interval '1 millisecond')
          ORDER BY seq LIMIT $1 FOR UPDATE SKIP LOCKED`,
        [this.options.batchSize ?? 100, this.graceMs],
      );
      if (rows.length === 0) { await client.query('COMMIT'); return 0; }
      const { ok, failed } = await this.publishAll(rows);
      if (ok.length) await client.query('UPDATE outbox SET published_at = now(), attempts = attempts + 1 WHERE seq = ANY($1::bigint[])', [ok.map((i) => rows[i]!.seq)]);
      for (const f of failed) await client.query('UPDATE outbox SET attempts = attempts + 1, last_error = $2 WHERE seq = $1', [rows[f.index]!.seq, f.error]);
      await client.query('COMMIT');
      this.published += ok.length;
      if (failed.length) {
        this.log.warn({ failed: failed.length, first: failed[0]?.error }, 'some outbox rows could not be published; retrying later');
        return 0; // stop this round; the poll retries
      }
      return rows.length;
    } catch (error) {
      broken ??= error as Error;
      await client.query('ROLLBACK').catch(() => undefined);
      throw error;
    } finally {
      client.off('error', onError);
      // A client that failed is destroyed rather than returned to the pool.
      client.release(broken);
    }
  }

  private async purgeIfDue(): Promise<void> {
    if (Date.now() - this.lastPurge < 60_000) return;
    this.lastPurge = Date.now();
    const published = this.options.retainPublishedMs ?? 7 * 24 * 3_600_000;
    const inbox = this.options.retainInboxMs ?? 14 * 24 * 3_600_000;
    await this.pool.query(`DELETE FROM outbox WHERE published_at < now() - ($1::bigint * interval '1 millisecond')`, [published]);
    await this.pool.query(`DELETE FROM inbox WHERE processed_at < now() - ($1::bigint * interval '1 millisecond')`, [inbox]);
  }

  /** Rows not yet published (for health checks and tests). */
  async backlog(): Promise<number> {
    // Published but not yet marked is not backlog.
    this.markDispatched();
    await this.marking;
    const { rows } = await this.pool.query<{ n: string }>('SELECT count(*) AS n FROM outbox WHERE published_at IS NULL');
    return Number(rows[0]?.n ?? 0);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    await Promise.all([...this.dispatching]);
    this.markDispatched();
    await this.marking;
    await this.draining.catch(() => undefined);
    await this.listener?.end().catch(() => undefined);
    await this.pool.end().catch(() => undefined);
  }
}
