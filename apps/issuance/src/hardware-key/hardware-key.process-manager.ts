import { AppError, createLogger, describeErrorSafely, type Logger } from '@thk/core';
import type { OutgoingMessage } from '@thk/messaging';
import { queryPrepared, type InboxKey, type UnitOfWork } from '@thk/persistence';
import { metricsRegistry } from '@thk/service-kit';
import { Counter } from 'prom-client';
import type { DataSource } from 'typeorm';
import { requestOfRow, type HardwareKeyRequestEntity, type HardwareKeyRequestRow } from '../persistence/index.js';
import type { Clock } from '../config/issuance.config.js';
import {
  canonicalSerial, initialState, react, tagOf, type Reaction, type RequestFacts, type SagaContext, type SagaInput, type SagaState, type StartedState,
} from './hardware-key.saga.js';
import { DEFAULT_DEADLINE_BACKOFF, deadlineRetryDelayMs, type DeadlineBackoff } from './deadline-backoff.js';
import { toOutgoing } from './outbound.js';

export interface SagaTimeouts {
  agentStepMs: number;
  caStepMs: number;
}

/** How a message finds its saga: by request id, or (`CertificateRevoked`) by certificate serial. */
export type SagaLocator = { requestId: string } | { certificateSerial: string };

export interface InputMeta {
  /** The inbox mark of the causing message: applied at most once per consumer. */
  inbox?: InboxKey;
  /** The causing message's id (the envelopes we emit name it as their cause). */
  causationId: string | null;
}

export type HandleResult =
  | { outcome: 'applied'; status: SagaState['status'] }
  | { outcome: 'ignored'; reason: string }
  | { outcome: 'unknown-request' }
  | { outcome: 'duplicate' };

export interface StartCommand {
  request: RequestFacts;
  sealedCurrentPin: string | null;
  idempotencyKey: string;
  inputHash: string;
}

export type StartResult =
  | { created: true; row: HardwareKeyRequestEntity }
  /** Another start with the same user and idempotency key committed first. */
  | { created: false; existing: HardwareKeyRequestEntity };

const sagaInputs = new Counter({
  name: 'issuance_saga_inputs_total',
  help: 'Inputs run through the hardware key saga, by input type and outcome',
  labelNames: ['input', 'outcome'] as const,
  registers: [metricsRegistry],
});
const deadlineFailures = new Counter({
  name: 'issuance_deadline_failures_total',
  help: 'Due deadlines whose handling failed (each is pushed back with a back-off)',
  registers: [metricsRegistry],
});
const sagasFinished = new Counter({
  name: 'issuance_sagas_finished_total',
  help: 'Hardware key sagas that reached completed or failed, by status and failure code',
  labelNames: ['status', 'code'] as const,
  registers: [metricsRegistry],
});

/** How many running sagas' rows a process keeps as it wrote them (`HardwareKeyProcessManager.written`). */
const REMEMBERED_SAGAS = 10_000;

/** A saga row found for an input, and whether the inbox already holds the input's mark. */
type Loaded = HardwareKeyRequestRow & { seen: boolean };

// `seen` rides along with the load: a redelivered message costs this one round trip and nothing else.
const SEEN = 'EXISTS (SELECT 1 FROM inbox WHERE consumer = $2::text AND message_id = $3::uuid) AS seen';
const LOAD_BY_REQUEST = `SELECT r.*, ${SEEN} FROM hardware_key_requests r WHERE r.request_id = $1`;
/** `CertificateRevoked` names only the serial: the newest saga that holds it. */
const LOAD_BY_SERIAL = `SELECT r.*, ${SEEN} FROM hardware_key_requests r WHERE r.certificate_serial = $1 ORDER BY r.created_at DESC LIMIT 1`;

/**
 * A new saga, `$9…$14` being `stateParams`. Where a concurrent start under the same user and
 * idempotency key committed first, it inserts nothing (and returns no row).
 */
const INSERT_REQUEST = `INSERT INTO hardware_key_requests
  (request_id, user_id, idempotency_key, input_hash, agent_id, version, reply, created_at,
   status, state, deadline_at, deadline_failures, certificate_serial, updated_at)
  VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)
  ON CONFLICT DO NOTHING RETURNING request_id`;
/** The new state (`$3…$8`: `stateParams`), only over the version the decision was made on (the optimistic lock). */
const SAVE_STATE = `UPDATE hardware_key_requests
  SET version = version + 1, status = $3, state = $4, deadline_at = $5, deadline_failures = $6, certificate_serial = $7, updated_at = $8
  WHERE request_id = $1 AND version = $2 RETURNING request_id`;
/**
 * A decision that only sends (a late reply's compensation) moves the version alone: it too holds only
 * for the state it was made on, and two deliveries of its message cannot both pass. The columns stay,
 * a pushed-back deadline included (nothing about the saga changed).
 */
const BUMP_VERSION = 'UPDATE hardware_key_requests SET version = version + 1 WHERE request_id = $1 AND version = $2 RETURNING request_id';

/**
 * Runs the pure saga against Postgres: loads the state, decides, and writes the new state, the inbox
 * mark and the outgoing messages (outbox) atomically, in two round trips and no explicit transaction:
 *
 * 1. one SELECT of the saga row that also says whether the inbox holds the message's mark (`seen`:
 *    a duplicate, answered at once);
 * 2. after the pure decision, one statement (`UnitOfWork.runStatement`): the optimistic
 *    `UPDATE … WHERE version = <loaded>` and, only if it matched, the inbox mark and the outbox rows.
 *
 * Why that is as strong as the transaction it replaces (READ COMMITTED either way): every applied
 * decision moves `version` in the same statement that writes its mark and its messages, so a statement
 * commits only over the very state its decision saw. Of two deliveries of one message that loaded the
 * same version, the second's UPDATE waits for the first's row lock, re-reads the row, finds the version
 * moved and matches nothing: nothing of it is written, the retryable `issuance.concurrent-update` sends
 * the message back, and its redelivery sees the mark (`duplicate`). A delivery whose decision wrote the
 * mark alone (an ignored input) bumps nothing, so it could not stop a second delivery's UPDATE; that
 * second delivery's mark then violates the inbox key and aborts its whole statement (`duplicate`,
 * nothing written). A change by anyone else (another message, a deadline) also moved the version: same
 * retry, decided afresh. A refused input writes nothing.
 */
export class HardwareKeyProcessManager {
  private readonly log: Logger;
  /**
   * The row as this process last wrote it, for each saga still running (bounded; the oldest go first).
   * A message for one of them is decided on it and written with the same optimistic statement, which
   * holds only if the row is still at that version: one round trip a step instead of two. Any other
   * outcome (the row moved on, through another replica or a deadline; an input the saga does not
   * apply) takes the ordinary path, which loads the row and checks the inbox first.
   */
  private readonly written = new Map<string, HardwareKeyRequestEntity>();

  constructor(
    private readonly dataSource: DataSource,
    private readonly uow: UnitOfWork,
    private readonly clock: Clock,
    private readonly timeouts: SagaTimeouts,
    logger?: Logger,
    private readonly backoff: DeadlineBackoff = DEFAULT_DEADLINE_BACKOFF,
  ) {
    this.log = logger ?? createLogger('issuance:saga');
  }

  private context(): SagaContext {
    return { now: this.clock(), agentStepMs: this.timeouts.agentStepMs, caStepMs: this.timeouts.caStepMs };
  }

  /**
   * Persists a new saga with its first messages, or reports the request that won the idempotency key.
   * One statement: the INSERT, and the outbox rows only if it inserted.
   */
  async start(command: StartCommand, reply: (state: StartedState) => HardwareKeyRequestEntity['reply']): Promise<StartResult> {
    const ctx = this.context();
    const r = react(initialState, { type: 'Start', request: command.request, sealedCurrentPin: command.sealedCurrentPin }, ctx);
    if (r.decision.outcome !== 'applied' || r.state.status === 'none') throw new Error(`a new saga did not start: ${tagOf(r.decision, 'outcome')}`);
    const state = r.state;
    const row: HardwareKeyRequestEntity = {
      requestId: command.request.requestId,
      userId: command.request.userId,
      idempotencyKey: command.idempotencyKey,
      inputHash: command.inputHash,
      agentId: command.request.token.agentId,
      version: 1,
      reply: reply(state),
      createdAt: ctx.now,
      ...columnsOf(state, ctx.now),
    };
    const stateJson = JSON.stringify(row.state);
    // A concurrent start under the same (user, idempotency key) may have committed first: then this
    // one inserts nothing and emits nothing, and the caller answers with the winner.
    const written = await this.uow.runStatement({
      sql: INSERT_REQUEST,
      params: [row.requestId, row.userId, row.idempotencyKey, row.inputHash, row.agentId, row.version, JSON.stringify(row.reply), row.createdAt, ...stateParams(row, stateJson)],
    }, { emit: this.outgoing(r.send, row.requestId, null, ctx.now) });
    if (written === 'duplicate') throw new Error('unreachable: a start has no inbox mark');
    if (written === 'written') {
      sagaInputs.inc({ input: 'Start', outcome: 'applied' });
      this.remember(row, stateJson);
      return { created: true, row };
    }
    const existing = await this.findByIdempotencyKey(command.request.userId, command.idempotencyKey);
    if (!existing) throw new AppError('issuance.start-conflict', 'the request collided with another one that is gone; retry', { retryable: true });
    return { created: false, existing };
  }

  /** Runs one received message through its saga. A message the saga refuses is thrown non-retryable (dead letter). */
  async handle(locator: SagaLocator, input: SagaInput, meta: InputMeta): Promise<HandleResult> {
    const remembered = 'requestId' in locator ? this.written.get(locator.requestId) : undefined;
    if (remembered) {
      const result = await this.apply(remembered, input, meta, { onlyIfApplied: true });
      // Moved on meanwhile (forgotten), or not applied as remembered: decided afresh on the stored row.
      if (result === 'unmatched') this.written.delete(remembered.requestId);
      else if (result !== 'not-applied') return result;
    }
    const [sql, key] = 'requestId' in locator ? [LOAD_BY_REQUEST, locator.requestId] : [LOAD_BY_SERIAL, canonicalSerial(locator.certificateSerial)];
    const [loaded]: Loaded[] = await this.dataSource.query(sql, [key, meta.inbox?.consumer ?? null, meta.inbox?.messageId ?? null]);
    if (loaded?.seen) return { outcome: 'duplicate' };
    if (!loaded) {
      // No saga for it: marked all the same, like every handled message, so that its redelivery is a duplicate, not a second look.
      if (meta.inbox && !(await this.uow.markProcessed(meta.inbox))) return { outcome: 'duplicate' };
      sagaInputs.inc({ input: input.type, outcome: 'unknown-request' });
      return { outcome: 'unknown-request' };
    }
    const row = requestOfRow(loaded);
    const result = await this.apply(row, input, meta);
    if (result === 'not-applied') throw new Error('unreachable: every decision on a loaded row is applied, ignored or refused');
    if (result === 'unmatched') {
      throw new AppError('issuance.concurrent-update', `saga ${row.requestId} changed meanwhile; retrying`, { retryable: true, meta: { requestId: row.requestId } });
    }
    return result;
  }

  /**
   * Feeds `DeadlineExpired` to every saga whose deadline has passed, each loaded afresh and its deadline
   * re-checked on what was loaded. The save is the same optimistic statement as a message's, so several
   * replicas scanning at once never fire one deadline twice: of those that loaded one version, one
   * writes and the others match nothing (someone else handled it: not counted, not a failure), and a
   * message applied meanwhile wins the same way. One broken saga does not hold back the others: a saga
   * whose deadline handling fails has its deadline pushed back with a doubling, bounded delay
   * (deadline-backoff.ts), so it leaves the front of the scan instead of taking a place in every page of
   * `limit` earliest deadlines.
   */
  async fireDueDeadlines(limit = 100): Promise<number> {
    const now = this.clock();
    const due: Array<{ request_id: string }> = await this.dataSource.query(
      'SELECT request_id FROM hardware_key_requests WHERE deadline_at <= $1 ORDER BY deadline_at LIMIT $2', [now, limit],
    );
    let fired = 0;
    for (const { request_id: requestId } of due) {
      try {
        const row = await this.load(requestId);
        if (!row || row.deadlineAt === null || row.deadlineAt.getTime() > now.getTime()) continue;
        const result = await this.apply(row, { type: 'DeadlineExpired' }, { causationId: null });
        if (typeof result !== 'string' && result.outcome === 'applied') fired++;
      } catch (error) {
        await this.postponeDeadline(requestId, now, error);
      }
    }
    return fired;
  }

  /**
   * Pushes a failed deadline back (the failed attempt wrote nothing). Only while it is still due and not
   * locked: a replica that meanwhile applied it, or pushed it back itself, wins. The version stays: this
   * changes when the scan looks again, not the saga.
   */
  private async postponeDeadline(requestId: string, now: Date, error: unknown): Promise<void> {
    try {
      const postponed = await this.dataSource.transaction(async (manager) => {
        const rows: Array<{ failures: number }> = await manager.query(
          'SELECT deadline_failures AS failures FROM hardware_key_requests WHERE request_id = $1 AND deadline_at <= $2 FOR UPDATE SKIP LOCKED',
          [requestId, now],
        );
        if (!rows[0]) return null;
        const failures = rows[0].failures + 1;
        const retryAt = new Date(now.getTime() + deadlineRetryDelayMs(failures, this.backoff));
        await manager.query('UPDATE hardware_key_requests SET deadline_at = $2, deadline_failures = $3 WHERE request_id = $1', [requestId, retryAt, failures]);
        return { failures, retryAt: retryAt.toISOString() };
      });
      deadlineFailures.inc();
      // Described, not dumped: a driver's message can quote the values of the failed statement.
      this.log.error({ error: describeErrorSafely(error), requestId, ...postponed }, postponed
        ? 'could not apply a due deadline; retried after a back-off'
        : 'could not apply a due deadline; it was handled or postponed meanwhile');
    } catch (postponeError) {
      this.log.error({ error: describeErrorSafely(error), postponeError: describeErrorSafely(postponeError), requestId }, 'could not apply a due deadline, nor postpone it; the next round retries');
    }
  }

  /** The saga of a request, for queries. */
  async load(requestId: string): Promise<HardwareKeyRequestEntity | null> {
    const [row]: HardwareKeyRequestRow[] = await this.dataSource.query('SELECT * FROM hardware_key_requests WHERE request_id = $1', [requestId]);
    return row ? requestOfRow(row) : null;
  }

  async findByIdempotencyKey(userId: string, idempotencyKey: string): Promise<HardwareKeyRequestEntity | null> {
    // Prepared: the first statement of every start, before the password's KDF.
    const [row]: HardwareKeyRequestRow[] = await queryPrepared(
      this.dataSource, 'SELECT * FROM hardware_key_requests WHERE user_id = $1 AND idempotency_key = $2', [userId, idempotencyKey],
    );
    return row ? requestOfRow(row) : null;
  }

  /**
   * Decides on `row` as loaded and writes the outcome: an ignored input its inbox mark alone (its
   * redelivery is then a duplicate), an applied one its state, mark and messages in one statement.
   * `unmatched`: the saga is no longer at the loaded version, and nothing was written.
   */
  private async apply(row: HardwareKeyRequestEntity, input: SagaInput, meta: InputMeta, options: { onlyIfApplied?: boolean } = {}): Promise<HandleResult | 'unmatched' | 'not-applied'> {
    const ctx = this.context();
    const r = react(row.state, input, ctx);
    // A remembered row is only a guess at the stored one: what it would not apply is left to the load.
    if (options.onlyIfApplied && r.decision.outcome !== 'applied') return 'not-applied';
    sagaInputs.inc({ input: input.type, outcome: r.decision.outcome });
    switch (r.decision.outcome) {
      case 'rejected':
        this.log.warn({ requestId: row.requestId, input: input.type, reason: r.decision.reason }, 'message refused by the saga');
        throw new AppError('issuance.message-refused', r.decision.reason, { retryable: false, meta: { requestId: row.requestId, input: input.type } });
      case 'ignored':
        this.log.debug({ requestId: row.requestId, input: input.type, status: row.status, reason: r.decision.reason }, 'input ignored');
        if (meta.inbox && !(await this.uow.markProcessed(meta.inbox))) return { outcome: 'duplicate' };
        return { outcome: 'ignored', reason: r.decision.reason };
      case 'applied':
        break;
      default: {
        const never: never = r.decision;
        throw new Error(`unknown decision ${tagOf(never, 'outcome')}`);
      }
    }
    const next = r.state;
    if (next.status === 'none') throw new Error('saga invariant broken: a started saga went back to none');
    // The state is serialised once: for the statement, and for the row remembered after it.
    const changed = next === row.state ? null : { columns: columnsOf(next, ctx.now), json: JSON.stringify(next) };
    const save = changed
      ? { sql: SAVE_STATE, params: [row.requestId, row.version, ...stateParams(changed.columns, changed.json)] }
      : { sql: BUMP_VERSION, params: [row.requestId, row.version] };
    const written = await this.uow.runStatement(save, { inbox: meta.inbox, emit: this.outgoing(r.send, row.requestId, meta.causationId, ctx.now) });
    if (written === 'unmatched') return 'unmatched';
    if (written === 'duplicate') return { outcome: 'duplicate' };
    this.remember({ ...row, ...(changed?.columns ?? {}), version: row.version + 1 }, changed?.json ?? null);
    if (next.status !== row.status) {
      this.log.info({ requestId: row.requestId, from: row.status, to: next.status, input: input.type }, 'saga moved');
      if (next.status === 'completed') sagasFinished.inc({ status: 'completed', code: '' });
      if (next.status === 'failed') sagasFinished.inc({ status: 'failed', code: next.failure.code });
    }
    return { outcome: 'applied', status: next.status };
  }

  /**
   * Keeps the row as written while its saga runs; a finished one is forgotten (its late messages are
   * rare). The state is kept as the database gives it back (through JSON), so that a decision on it is
   * the decision on the loaded row.
   */
  private remember(row: HardwareKeyRequestEntity, stateJson: string | null): void {
    this.written.delete(row.requestId);
    if (row.status === 'completed' || row.status === 'failed') return;
    if (this.written.size >= REMEMBERED_SAGAS) this.written.delete(this.written.keys().next().value!);
    // `stateJson`: the text the statement wrote (null when the state did not change: the row's own is kept).
    this.written.set(row.requestId, stateJson === null ? row : { ...row, state: JSON.parse(stateJson) as HardwareKeyRequestEntity['state'] });
  }

  private outgoing(messages: Reaction['send'], requestId: string, causationId: string | null, now: Date): OutgoingMessage[] {
    return messages.map((m) => toOutgoing(m, { correlationId: requestId, causationId, occurredAt: now }));
  }
}

type StateColumns = Pick<HardwareKeyRequestEntity, 'status' | 'state' | 'deadlineAt' | 'deadlineFailures' | 'certificateSerial' | 'updatedAt'>;

/**
 * The queried columns, derived from the state so they can never disagree with it (except `deadline_at`
 * while a failing deadline is pushed back; every save derives it afresh and clears the failure count).
 */
function columnsOf(state: StartedState, now: Date): StateColumns {
  return {
    status: state.status,
    state,
    deadlineAt: state.deadlineAt === null ? null : new Date(state.deadlineAt),
    deadlineFailures: 0,
    certificateSerial: certificateSerialOf(state),
    updatedAt: now,
  };
}

/** `columnsOf` as parameters of `INSERT_REQUEST` and `SAVE_STATE`, jsonb as JSON text (pg would send an array as a Postgres array). */
function stateParams(c: StateColumns, stateJson: string): unknown[] {
  return [c.status, stateJson, c.deadlineAt, c.deadlineFailures, c.certificateSerial, c.updatedAt];
}

/** The serial a `CertificateRevoked` will name: the one whose revocation is awaited, else the saga's certificate. */
function certificateSerialOf(state: StartedState): string | null {
  if (state.status === 'compensating' && state.awaiting?.kind === 'revoke-certificate') return canonicalSerial(state.awaiting.serialNumber);
  return 'certificate' in state && state.certificate ? canonicalSerial(state.certificate.serialNumber) : null;
}
