import { AppError, createLogger, describeErrorSafely, type Logger } from '@thk/core';
import type { InboxKey, Transaction, UnitOfWork } from '@thk/persistence';
import { metricsRegistry } from '@thk/service-kit';
import { Counter } from 'prom-client';
import type { DataSource, EntityManager } from 'typeorm';
import { HardwareKeyRequestEntity } from '../persistence/index.js';
import type { Clock } from '../config/issuance.config.js';
import {
  canonicalSerial, initialState, react, tagOf, type RequestFacts, type SagaContext, type SagaInput, type SagaState, type StartedState,
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

/**
 * Runs the pure saga against Postgres: loads the state, decides, and saves the new state, the
 * inbox mark and the outgoing messages (outbox) in ONE transaction. Saves are optimistic
 * (`WHERE version = <loaded>`): a concurrent change to the same saga makes this attempt fail with
 * a retryable error, the transaction rolls back (inbox mark included) and the message is redelivered.
 */
export class HardwareKeyProcessManager {
  private readonly log: Logger;

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

  /** Persists a new saga with its first messages, or reports the request that won the idempotency key. */
  async start(command: StartCommand, reply: (state: StartedState) => HardwareKeyRequestEntity['reply']): Promise<StartResult> {
    const result = await this.uow.run(async (tx) => {
      const ctx = this.context();
      const r = react(initialState, { type: 'Start', request: command.request, sealedCurrentPin: command.sealedCurrentPin }, ctx);
      if (r.decision.outcome !== 'applied' || r.state.status === 'none') throw new Error(`a new saga did not start: ${tagOf(r.decision, 'outcome')}`);
      const state = r.state;
      const row = tx.manager.create(HardwareKeyRequestEntity, {
        requestId: command.request.requestId,
        userId: command.request.userId,
        idempotencyKey: command.idempotencyKey,
        inputHash: command.inputHash,
        agentId: command.request.token.agentId,
        version: 1,
        reply: reply(state),
        createdAt: ctx.now,
        ...columnsOf(state, ctx.now),
      });
      // A concurrent start under the same (user, idempotency key) may have committed first: then this
      // one inserts nothing and emits nothing, and the caller answers with the winner.
      const inserted = await tx.manager.createQueryBuilder().insert().into(HardwareKeyRequestEntity).values(row).orIgnore().returning('request_id').execute();
      if ((inserted.raw as unknown[]).length === 0) return null;
      this.emitAll(tx, r.send, command.request.requestId, null, ctx.now);
      sagaInputs.inc({ input: 'Start', outcome: 'applied' });
      return row;
    });
    if (!result.applied) throw new Error('unreachable: a start has no inbox mark');
    if (result.value) return { created: true, row: result.value };
    const existing = await this.findByIdempotencyKey(command.request.userId, command.idempotencyKey);
    if (!existing) throw new AppError('issuance.start-conflict', 'the request collided with another one that is gone; retry', { retryable: true });
    return { created: false, existing };
  }

  /** Runs one received message through its saga. A message the saga refuses is thrown non-retryable (dead letter). */
  async handle(locator: SagaLocator, input: SagaInput, meta: InputMeta): Promise<HandleResult> {
    const result = await this.uow.run(async (tx) => {
      const row = await this.find(tx.manager, locator, false);
      if (!row) return { outcome: 'unknown-request' } as const;
      return this.apply(tx, row, input, meta.causationId);
    }, meta.inbox ? { inbox: meta.inbox } : {});
    if (!result.applied) return { outcome: 'duplicate' };
    if (result.value.outcome === 'unknown-request') sagaInputs.inc({ input: input.type, outcome: 'unknown-request' });
    return result.value;
  }

  /**
   * Feeds `DeadlineExpired` to every saga whose deadline has passed. Each saga is locked with
   * `FOR UPDATE SKIP LOCKED` in its own transaction, and its deadline re-checked under the lock, so
   * several replicas scanning at once never fire one deadline twice, and one broken saga does not
   * hold back the others: a saga whose deadline handling fails has its deadline pushed back with a
   * doubling, bounded delay (deadline-backoff.ts), so it leaves the front of the scan instead of taking
   * a place in every page of `limit` earliest deadlines.
   */
  async fireDueDeadlines(limit = 100): Promise<number> {
    const now = this.clock();
    const due: Array<{ request_id: string }> = await this.dataSource.query(
      'SELECT request_id FROM hardware_key_requests WHERE deadline_at <= $1 ORDER BY deadline_at LIMIT $2', [now, limit],
    );
    let fired = 0;
    for (const { request_id: requestId } of due) {
      try {
        const result = await this.uow.run(async (tx) => {
          const row = await this.find(tx.manager, { requestId }, true);
          if (!row || row.deadlineAt === null || row.deadlineAt.getTime() > now.getTime()) return false;
          const r = await this.apply(tx, row, { type: 'DeadlineExpired' }, null);
          return r.outcome === 'applied';
        });
        if (result.applied && result.value) fired++;
      } catch (error) {
        await this.postponeDeadline(requestId, now, error);
      }
    }
    return fired;
  }

  /**
   * Pushes a failed deadline back (its own transaction: the failed one rolled back). Only while it is
   * still due and not locked: a replica that meanwhile applied it, or pushed it back itself, wins.
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
    return this.dataSource.manager.findOneBy(HardwareKeyRequestEntity, { requestId });
  }

  async findByIdempotencyKey(userId: string, idempotencyKey: string): Promise<HardwareKeyRequestEntity | null> {
    return this.dataSource.manager.findOneBy(HardwareKeyRequestEntity, { userId, idempotencyKey });
  }

  private async find(manager: EntityManager, locator: SagaLocator, lock: boolean): Promise<HardwareKeyRequestEntity | null> {
    const qb = manager.createQueryBuilder(HardwareKeyRequestEntity, 'r');
    if ('requestId' in locator) qb.where('r.request_id = :id', { id: locator.requestId });
    else qb.where('r.certificate_serial = :serial', { serial: canonicalSerial(locator.certificateSerial) }).orderBy('r.created_at', 'DESC').limit(1);
    if (lock) qb.setLock('pessimistic_write').setOnLocked('skip_locked');
    return qb.getOne();
  }

  private async apply(tx: Transaction, row: HardwareKeyRequestEntity, input: SagaInput, causationId: string | null): Promise<HandleResult> {
    const ctx = this.context();
    const r = react(row.state, input, ctx);
    sagaInputs.inc({ input: input.type, outcome: r.decision.outcome });
    switch (r.decision.outcome) {
      case 'rejected':
        this.log.warn({ requestId: row.requestId, input: input.type, reason: r.decision.reason }, 'message refused by the saga');
        throw new AppError('issuance.message-refused', r.decision.reason, { retryable: false, meta: { requestId: row.requestId, input: input.type } });
      case 'ignored':
        this.log.debug({ requestId: row.requestId, input: input.type, status: row.status, reason: r.decision.reason }, 'input ignored');
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
    if (next !== row.state) {
      const update = await tx.manager.createQueryBuilder()
        .update(HardwareKeyRequestEntity)
        .set({ version: row.version + 1, ...columnsOf(next, ctx.now) })
        .where('request_id = :id AND version = :version', { id: row.requestId, version: row.version })
        .execute();
      if (update.affected !== 1) {
        throw new AppError('issuance.concurrent-update', `saga ${row.requestId} changed meanwhile; retrying`, { retryable: true, meta: { requestId: row.requestId } });
      }
      if (next.status !== row.status) {
        this.log.info({ requestId: row.requestId, from: row.status, to: next.status, input: input.type }, 'saga moved');
        if (next.status === 'completed') sagasFinished.inc({ status: 'completed', code: '' });
        if (next.status === 'failed') sagasFinished.inc({ status: 'failed', code: next.failure.code });
      }
    }
    this.emitAll(tx, r.send, row.requestId, causationId, ctx.now);
    return { outcome: 'applied', status: next.status };
  }

  private emitAll(tx: Transaction, messages: ReturnType<typeof react>['send'], requestId: string, causationId: string | null, now: Date): void {
    for (const m of messages) tx.emit(toOutgoing(m, { correlationId: requestId, causationId, occurredAt: now }));
  }
}

/**
 * The queried columns, derived from the state so they can never disagree with it (except `deadline_at`
 * while a failing deadline is pushed back; every save derives it afresh and clears the failure count).
 */
function columnsOf(state: StartedState, now: Date): Pick<HardwareKeyRequestEntity, 'status' | 'state' | 'deadlineAt' | 'deadlineFailures' | 'certificateSerial' | 'updatedAt'> {
  return {
    status: state.status,
    state,
    deadlineAt: state.deadlineAt === null ? null : new Date(state.deadlineAt),
    deadlineFailures: 0,
    certificateSerial: certificateSerialOf(state),
    updatedAt: now,
  };
}

/** The serial a `CertificateRevoked` will name: the one whose revocation is awaited, else the saga's certificate. */
function certificateSerialOf(state: StartedState): string | null {
  if (state.status === 'compensating' && state.awaiting?.kind === 'revoke-certificate') return canonicalSerial(state.awaiting.serialNumber);
  return 'certificate' in state && state.certificate ? canonicalSerial(state.certificate.serialNumber) : null;
}
