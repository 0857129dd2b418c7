import type {
  CertificateInstalledV1, CertificateInstallFailedV1, CertificateIssuedV1, CertificateRejectedV1, CertificateRejectionCode,
  CertificateRevokedV1, DestroyTokenKeyV1, GenerateTokenKeyV1, HardwareKeyFailureCode, HardwareKeyRequestedV1,
  HardwareKeyRequestFailedV1, HardwareKeyRequestProgressedV1, HardwareKeyRequestStatus, InstallCertificateV1, IssueCertificateV1,
  KeyAlgorithm, KeyEvidence, PersonSubject, RevokeCertificateV1, TemporaryHardwareKeyFormedV1, TokenFailureCode, TokenKeyDestroyedV1,
  TokenKeyGeneratedV1, TokenKeyGenerationFailedV1, TokenRef, ValidityWindow,
} from '@thk/contracts';

/**
 * The temporary hardware key saga (design.md §3) as a pure state machine, in the manner of
 * emmett's workflows: `decide(input, state, ctx)` answers with the saga's own events and the
 * messages to send, `evolve(state, event)` folds an event into the state. No I/O, no clock: the
 * process manager loads the state, calls `react`, and saves the new state together with the
 * messages (outbox) and the inbox mark, atomically.
 *
 * Happy path: requested → key-generating → key-generated → certificate-issuing → certificate-issued
 * → installing → completed. Any failure: compensating → failed, undoing what was done newest first
 * (revoke the certificate, destroy the key on the token), then `HardwareKeyRequestFailed` so that the
 * accounts service marks the pending key row failed.
 *
 * Compensations are awaited one at a time, newest first, each with its own deadline (a revoke waits
 * for `CertificateRevoked`, a destroy for `TokenKeyDestroyed`). One exception: when the failure *is*
 * the agent's silence, `DestroyTokenKey` is sent but not awaited — the agent is not answering, and
 * waiting another agent deadline would only double the user's wait; the command stays in the AGENTS
 * stream and the agent applies it when it is back. A compensation that is not confirmed in time is
 * noted (`unconfirmed`) and the saga moves on; the failure's detail says so.
 *
 * Late replies (after a timeout) are compensated, never applied: a key generated after the
 * key-generation deadline is destroyed, a certificate issued after the CA deadline is revoked.
 * Duplicates and out-of-order messages are absorbed by the state guards (and before that by the inbox).
 */

// ───────────────────────────── state ─────────────────────────────

/** What the request is about; fixed once the saga has started. */
export interface RequestFacts {
  requestId: string;
  userId: string;
  baseKeyId: string;
  /** The key account that the accounts service shows as `pending` and activates when formed. */
  keyAccountId: string;
  token: TokenRef;
  algorithm: KeyAlgorithm;
  validity: ValidityWindow;
  subject: PersonSubject;
  /**
   * The depository's authorization: a JWS signed by the base (cloud) key. Not a secret — a signed,
   * expiring statement that the CA verifies on its own — but it is needed for `IssueCertificate`.
   */
  authorization: string;
  /**
   * The token's new user PIN, sealed to the agent's key (compact JWE only the agent can open), as sent
   * in `GenerateTokenKey`. Kept because a compensation needs it: the private key is a private object,
   * and the agent must log in to destroy it (`DestroyTokenKey.sealedPin`). The saga never sees it in clear.
   */
  sealedNewPin: string;
  requestedAt: string;
}

export interface GeneratedKey {
  keyId: string;
  algorithm: KeyAlgorithm;
  csr: string;
  evidence: KeyEvidence;
}

export interface IssuedCertificate {
  serialNumber: string;
  subject: string;
  issuer: string;
  notBefore: string;
  notAfter: string;
  der: string;
}

export interface Failure {
  code: HardwareKeyFailureCode;
  detail: string;
}

export interface Step {
  state: HardwareKeyRequestStatus;
  at: string;
}

export type Compensation =
  | { kind: 'revoke-certificate'; serialNumber: string; await: boolean }
  | { kind: 'destroy-token-key'; await: boolean };

interface Active {
  request: RequestFacts;
  steps: Step[];
  /** When the current step times out (null: nothing awaited). */
  deadlineAt: string | null;
}

export type SagaState =
  | { status: 'none' }
  | (Active & { status: 'requested' })
  | (Active & { status: 'key-generating' })
  | (Active & { status: 'key-generated'; key: GeneratedKey })
  | (Active & { status: 'certificate-issuing'; key: GeneratedKey })
  | (Active & { status: 'certificate-issued'; key: GeneratedKey; certificate: IssuedCertificate })
  | (Active & { status: 'installing'; key: GeneratedKey; certificate: IssuedCertificate })
  | (Active & { status: 'completed'; key: GeneratedKey; certificate: IssuedCertificate })
  | (Active & {
    status: 'compensating'; key: GeneratedKey | null; certificate: IssuedCertificate | null; failure: Failure;
    /** Still to run, newest first. */
    pending: Compensation[];
    /** Sent and awaited now. */
    awaiting: Compensation | null;
    unconfirmed: Compensation['kind'][];
    /** What a confirmed compensation could not undo, in words (e.g. the private key left on the token). */
    leftBehind?: string[];
  })
  | (Active & {
    status: 'failed'; key: GeneratedKey | null; certificate: IssuedCertificate | null; failure: Failure;
    unconfirmed: Compensation['kind'][];
    leftBehind?: string[];
  });

export type StartedState = Exclude<SagaState, { status: 'none' }>;
export type SagaStatus = StartedState['status'];

export const initialState: SagaState = { status: 'none' };

// ───────────────────────────── inputs ─────────────────────────────

export type SagaInput =
  /** `sealedCurrentPin` is used once, in `GenerateTokenKey`, and not kept. */
  | { type: 'Start'; request: RequestFacts; sealedCurrentPin: string | null }
  /** `agentId`: the agent that published the event, from its subject (NATS permissions enforce it). */
  | { type: 'TokenKeyGenerated'; agentId: string | undefined; data: TokenKeyGeneratedV1 }
  | { type: 'TokenKeyGenerationFailed'; agentId: string | undefined; data: TokenKeyGenerationFailedV1 }
  | { type: 'CertificateIssued'; data: CertificateIssuedV1 }
  | { type: 'CertificateRejected'; data: CertificateRejectedV1 }
  | { type: 'CertificateInstalled'; agentId: string | undefined; data: CertificateInstalledV1 }
  | { type: 'CertificateInstallFailed'; agentId: string | undefined; data: CertificateInstallFailedV1 }
  | { type: 'TokenKeyDestroyed'; agentId: string | undefined; data: TokenKeyDestroyedV1 }
  | { type: 'CertificateRevoked'; data: CertificateRevokedV1 }
  /** The scheduler found the saga's deadline due. */
  | { type: 'DeadlineExpired' };

export interface SagaContext {
  now: Date;
  /** How long an agent step (generate, install, destroy) may take. */
  agentStepMs: number;
  /** How long a CA step (issue, revoke) may take. */
  caStepMs: number;
}

// ───────────────────────────── events (the saga's own facts) ─────────────────────────────

export type SagaEvent =
  | { type: 'Requested'; at: string; request: RequestFacts }
  | { type: 'KeyGenerationOrdered'; at: string; deadlineAt: string }
  | { type: 'KeyGenerated'; at: string; key: GeneratedKey }
  | { type: 'CertificateOrdered'; at: string; deadlineAt: string }
  | { type: 'CertificateReceived'; at: string; certificate: IssuedCertificate }
  | { type: 'InstallOrdered'; at: string; deadlineAt: string }
  | { type: 'Completed'; at: string }
  | { type: 'CompensationStarted'; at: string; failure: Failure; compensations: Compensation[] }
  /** The next pending compensation was sent; awaited until `deadlineAt` unless that is null. */
  | { type: 'CompensationIssued'; at: string; deadlineAt: string | null }
  /** `leftBehind`: what the confirmed compensation reports it could not undo. */
  | { type: 'CompensationSettled'; at: string; confirmed: boolean; leftBehind?: string }
  | { type: 'Failed'; at: string };

// ───────────────────────────── outbound messages ─────────────────────────────

export type Outbound =
  | { message: 'HardwareKeyRequested'; data: HardwareKeyRequestedV1 }
  | { message: 'HardwareKeyRequestProgressed'; data: HardwareKeyRequestProgressedV1 }
  | { message: 'TemporaryHardwareKeyFormed'; data: TemporaryHardwareKeyFormedV1 }
  | { message: 'HardwareKeyRequestFailed'; data: HardwareKeyRequestFailedV1 }
  | { message: 'GenerateTokenKey'; agentId: string; data: GenerateTokenKeyV1 }
  | { message: 'InstallCertificate'; agentId: string; data: InstallCertificateV1 }
  | { message: 'DestroyTokenKey'; agentId: string; data: DestroyTokenKeyV1 }
  | { message: 'IssueCertificate'; data: IssueCertificateV1 }
  | { message: 'RevokeCertificate'; data: RevokeCertificateV1 };

export type Decision =
  | { outcome: 'applied'; events: SagaEvent[]; send: Outbound[] }
  /** Nothing to do (a duplicate, a stale or out-of-order message): acknowledged and forgotten. */
  | { outcome: 'ignored'; reason: string }
  /** The message must not be applied to this saga (wrong agent or token): dead-lettered. */
  | { outcome: 'rejected'; reason: string };

// ───────────────────────────── evolve ─────────────────────────────

function unexpected(state: SagaState, event: SagaEvent): never {
  throw new Error(`saga invariant broken: ${event.type} cannot apply to a saga in ${state.status}`);
}

function withStep<S extends Active>(state: S, status: HardwareKeyRequestStatus, at: string): Step[] {
  return [...state.steps, { state: status, at }];
}

export function evolve(state: SagaState, event: SagaEvent): SagaState {
  switch (event.type) {
    case 'Requested':
      if (state.status !== 'none') return unexpected(state, event);
      return { status: 'requested', request: event.request, steps: [{ state: 'requested', at: event.at }], deadlineAt: null };
    case 'KeyGenerationOrdered':
      if (state.status !== 'requested') return unexpected(state, event);
      return { ...state, status: 'key-generating', steps: withStep(state, 'key-generating', event.at), deadlineAt: event.deadlineAt };
    case 'KeyGenerated':
      if (state.status !== 'key-generating') return unexpected(state, event);
      return { ...state, status: 'key-generated', key: event.key, steps: withStep(state, 'key-generated', event.at), deadlineAt: null };
    case 'CertificateOrdered':
      if (state.status !== 'key-generated') return unexpected(state, event);
      return { ...state, status: 'certificate-issuing', steps: withStep(state, 'certificate-issuing', event.at), deadlineAt: event.deadlineAt };
    case 'CertificateReceived':
      if (state.status !== 'certificate-issuing') return unexpected(state, event);
      return { ...state, status: 'certificate-issued', certificate: event.certificate, steps: withStep(state, 'certificate-issued', event.at), deadlineAt: null };
    case 'InstallOrdered':
      if (state.status !== 'certificate-issued') return unexpected(state, event);
      return { ...state, status: 'installing', steps: withStep(state, 'installing', event.at), deadlineAt: event.deadlineAt };
    case 'Completed':
      if (state.status !== 'installing') return unexpected(state, event);
      return { ...state, status: 'completed', steps: withStep(state, 'completed', event.at), deadlineAt: null };
    case 'CompensationStarted': {
      if (state.status === 'none' || state.status === 'compensating' || state.status === 'failed' || state.status === 'completed') return unexpected(state, event);
      return {
        status: 'compensating', request: state.request, steps: withStep(state, 'compensating', event.at), deadlineAt: null,
        key: 'key' in state ? state.key : null,
        certificate: 'certificate' in state ? state.certificate : null,
        failure: event.failure, pending: event.compensations, awaiting: null, unconfirmed: [],
      };
    }
    case 'CompensationIssued': {
      if (state.status !== 'compensating' || state.awaiting || state.pending.length === 0) return unexpected(state, event);
      const [head, ...rest] = state.pending;
      return event.deadlineAt === null
        ? { ...state, pending: rest, awaiting: null, deadlineAt: null, unconfirmed: [...state.unconfirmed, head!.kind] }
        : { ...state, pending: rest, awaiting: head!, deadlineAt: event.deadlineAt };
    }
    case 'CompensationSettled':
      if (state.status !== 'compensating' || !state.awaiting) return unexpected(state, event);
      return {
        ...state, awaiting: null, deadlineAt: null,
        unconfirmed: event.confirmed ? state.unconfirmed : [...state.unconfirmed, state.awaiting.kind],
        ...(event.leftBehind ? { leftBehind: [...(state.leftBehind ?? []), event.leftBehind] } : {}),
      };
    case 'Failed': {
      if (state.status !== 'compensating' || state.awaiting || state.pending.length > 0) return unexpected(state, event);
      const { pending: _p, awaiting: _a, ...rest } = state;
      return { ...rest, status: 'failed', steps: withStep(state, 'failed', event.at), deadlineAt: null };
    }
    default: {
      const never: never = event;
      throw new Error(`unknown saga event ${tagOf(never, 'type')}`);
    }
  }
}

// ───────────────────────────── decide ─────────────────────────────

/**
 * A certificate serial in one spelling (lower case, whole bytes, no leading zero bytes), so that
 * `0A`, `a` and `000a` name one certificate whichever service wrote it.
 */
export function canonicalSerial(hex: string): string {
  let h = hex.toLowerCase();
  if (h.length % 2) h = `0${h}`;
  while (h.length > 2 && h.startsWith('00')) h = h.slice(2);
  return h;
}
const sameSerial = (a: string, b: string) => canonicalSerial(a) === canonicalSerial(b);

const ignored = (reason: string): Decision => ({ outcome: 'ignored', reason });
const rejected = (reason: string): Decision => ({ outcome: 'rejected', reason });

/** Accumulates events (evolving a working state as it goes) and messages. */
class Plan {
  readonly events: SagaEvent[] = [];
  readonly send: Outbound[] = [];
  constructor(public state: SagaState) {}
  apply(event: SagaEvent): this {
    this.events.push(event);
    this.state = evolve(this.state, event);
    return this;
  }
  emit(message: Outbound): this {
    this.send.push(message);
    return this;
  }
  decision(): Decision {
    return { outcome: 'applied', events: this.events, send: this.send };
  }
}

const iso = (d: Date) => d.toISOString();
const after = (ctx: SagaContext, ms: number) => new Date(ctx.now.getTime() + ms).toISOString();
const clip = (text: string, max = 1_000) => (text.length <= max ? text : `${text.slice(0, max - 1)}…`);
const seconds = (ms: number) => `${Math.round(ms / 1_000)} s`;

/** The token agent's failure codes, in words a person understands. */
export function failureOfTokenCode(code: TokenFailureCode, step: 'generate' | 'install'): HardwareKeyFailureCode {
  switch (code) {
    case 'token-absent': return 'token-absent';
    case 'token-pin-locked': return 'token-pin-locked';
    case 'wrong-token-password': return 'wrong-token-password';
    case 'pin-policy': return step === 'generate' ? 'pin-policy' : 'install-failed';
    case 'algorithm-unsupported': return step === 'generate' ? 'algorithm-unsupported' : 'install-failed';
    // The sealed password could not be opened (e.g. the agent's sealing key changed): a token-side error to retry.
    case 'sealed-password-invalid': return step === 'generate' ? 'token-error' : 'install-failed';
    case 'certificate-mismatch': return 'install-failed';
    case 'token-error': return step === 'generate' ? 'token-error' : 'install-failed';
    default: {
      const never: never = code;
      throw new Error(`unknown token failure code ${String(never)}`);
    }
  }
}

/**
 * Every CA refusal is `ca-rejected` (the issue's list of failure codes); the CA's own code leads the
 * detail (`base-certificate-revoked: …`), so the cabinet can say more where it wants to.
 */
export function failureOfCaCode(code: CertificateRejectionCode): HardwareKeyFailureCode {
  switch (code) {
    case 'base-certificate-untrusted':
    case 'base-certificate-revoked':
    case 'base-certificate-expired':
    case 'csr-invalid':
    case 'authorization-invalid':
    case 'authorization-expired':
    case 'authorization-replayed':
    case 'token-mismatch':
    case 'window-exceeds-cap':
    case 'public-key-reused':
    case 'request-conflict':
    case 'profile-violation':
      return 'ca-rejected';
    default: {
      const never: never = code;
      throw new Error(`unknown CA rejection code ${String(never)}`);
    }
  }
}

/**
 * Token-side failures reported before the agent touched the token's objects: nothing to destroy.
 * Any other reported failure may have left a key behind, so it is destroyed (and awaited).
 */
const FAILS_BEFORE_KEY_EXISTS: ReadonlySet<TokenFailureCode> = new Set([
  'token-absent', 'token-pin-locked', 'wrong-token-password', 'sealed-password-invalid', 'pin-policy', 'algorithm-unsupported',
]);

function destroyCommand(request: RequestFacts, reason: string): Outbound {
  return {
    message: 'DestroyTokenKey', agentId: request.token.agentId,
    data: { requestId: request.requestId, tokenSerial: request.token.serial, reason: clip(reason, 200), sealedPin: request.sealedNewPin },
  };
}

function revokeCommand(request: RequestFacts, serialNumber: string, comment: string): Outbound {
  return {
    message: 'RevokeCertificate',
    data: {
      serialNumber, reason: 'cessationOfOperation', requestedBy: 'issuance:compensation',
      comment: clip(`request ${request.requestId}: ${comment}`, 500),
    },
  };
}

/** Sends pending compensations until one is awaited; when none is left, the saga has failed. */
function runCompensations(plan: Plan, ctx: SagaContext): void {
  for (;;) {
    const s = plan.state;
    if (s.status !== 'compensating') throw new Error(`saga invariant broken: compensating expected, got ${s.status}`);
    if (s.awaiting) return;
    const head = s.pending[0];
    if (!head) break;
    switch (head.kind) {
      case 'revoke-certificate':
        plan.emit(revokeCommand(s.request, head.serialNumber, s.failure.code));
        plan.apply({ type: 'CompensationIssued', at: iso(ctx.now), deadlineAt: head.await ? after(ctx, ctx.caStepMs) : null });
        break;
      case 'destroy-token-key':
        plan.emit(destroyCommand(s.request, s.failure.code));
        plan.apply({ type: 'CompensationIssued', at: iso(ctx.now), deadlineAt: head.await ? after(ctx, ctx.agentStepMs) : null });
        break;
      default: {
        const never: never = head;
        throw new Error(`unknown compensation ${tagOf(never, 'kind')}`);
      }
    }
  }
  const at = iso(ctx.now);
  plan.apply({ type: 'Failed', at });
  const s = plan.state;
  if (s.status !== 'failed') throw new Error(`saga invariant broken: failed expected, got ${s.status}`);
  plan.emit({
    message: 'HardwareKeyRequestFailed',
    data: {
      requestId: s.request.requestId, userId: s.request.userId, baseKeyId: s.request.baseKeyId, keyAccountId: s.request.keyAccountId,
      code: s.failure.code, detail: failureDetail(s), failedAt: at,
    },
  });
}

/** The failure as a person reads it, with what could not be confirmed undone. */
export function failureDetail(state: SagaState): string {
  if (state.status !== 'failed' && state.status !== 'compensating') return '';
  const notes: string[] = [...(state.leftBehind ?? [])];
  if (state.unconfirmed.includes('destroy-token-key')) notes.push('the key on the token is removed when the signing agent is back online');
  if (state.unconfirmed.includes('revoke-certificate')) notes.push('the certificate\'s revocation is not confirmed yet');
  return clip(notes.length ? `${state.failure.detail} (${notes.join('; ')})` : state.failure.detail);
}

/** Starts compensating: the compensations are given newest first. */
function fail(state: StartedState, failure: Failure, compensations: Compensation[], ctx: SagaContext): Decision {
  const plan = new Plan(state);
  plan.apply({ type: 'CompensationStarted', at: iso(ctx.now), failure: { code: failure.code, detail: clip(failure.detail) }, compensations });
  runCompensations(plan, ctx);
  return plan.decision();
}

/** An agent's event must come from the saga's own agent and name its token. */
function foreign(state: StartedState, agentId: string | undefined, tokenSerial: string): string | null {
  if (agentId !== state.request.token.agentId) return `event from agent ${agentId ?? '(none)'} for a request of agent ${state.request.token.agentId}`;
  if (tokenSerial !== state.request.token.serial) return `event names token ${tokenSerial}, the request is for token ${state.request.token.serial}`;
  return null;
}

export function decide(input: SagaInput, state: SagaState, ctx: SagaContext): Decision {
  if (input.type === 'Start') return decideStart(input, state, ctx);
  if (state.status === 'none') return ignored(`no saga for ${input.type}`);
  switch (input.type) {
    case 'TokenKeyGenerated': return onTokenKeyGenerated(input, state, ctx);
    case 'TokenKeyGenerationFailed': return onTokenKeyGenerationFailed(input, state, ctx);
    case 'CertificateIssued': return onCertificateIssued(input, state, ctx);
    case 'CertificateRejected': return onCertificateRejected(input, state, ctx);
    case 'CertificateInstalled': return onCertificateInstalled(input, state, ctx);
    case 'CertificateInstallFailed': return onCertificateInstallFailed(input, state, ctx);
    case 'TokenKeyDestroyed': return onTokenKeyDestroyed(input, state, ctx);
    case 'CertificateRevoked': return onCertificateRevoked(input, state, ctx);
    case 'DeadlineExpired': return onDeadlineExpired(state, ctx);
    default: {
      const never: never = input;
      throw new Error(`unknown saga input ${tagOf(never, 'type')}`);
    }
  }
}

function decideStart(input: Extract<SagaInput, { type: 'Start' }>, state: SagaState, ctx: SagaContext): Decision {
  if (state.status !== 'none') return ignored('the saga has started already');
  const { request } = input;
  const at = iso(ctx.now);
  // The command goes out first: it starts the next step of the chain (the messages leave in this
  // order), the event only tells accounts, which does its part beside it.
  return new Plan(state)
    .apply({ type: 'Requested', at, request })
    .apply({ type: 'KeyGenerationOrdered', at, deadlineAt: after(ctx, ctx.agentStepMs) })
    .emit({
      message: 'GenerateTokenKey', agentId: request.token.agentId,
      data: {
        requestId: request.requestId, tokenSerial: request.token.serial, algorithm: request.algorithm,
        label: tokenKeyLabel(request.requestId), subject: request.subject,
        sealedNewPin: request.sealedNewPin, sealedCurrentPin: input.sealedCurrentPin,
      },
    })
    .emit({
      message: 'HardwareKeyRequested',
      data: {
        requestId: request.requestId, userId: request.userId, baseKeyId: request.baseKeyId, keyAccountId: request.keyAccountId,
        validity: request.validity, token: request.token, algorithm: request.algorithm, requestedAt: request.requestedAt,
      },
    })
    .decision();
}

/** The label of the token objects: names the request, fits CKA_LABEL's 64 characters. */
export function tokenKeyLabel(requestId: string): string {
  return `thk-${requestId}`;
}

function onTokenKeyGenerated(input: Extract<SagaInput, { type: 'TokenKeyGenerated' }>, state: StartedState, ctx: SagaContext): Decision {
  const bad = foreign(state, input.agentId, input.data.tokenSerial);
  if (bad) return rejected(bad);
  const d = input.data;
  switch (state.status) {
    case 'key-generating': {
      if (d.algorithm !== state.request.algorithm) {
        return fail(state, { code: 'token-error', detail: `the agent generated a ${d.algorithm} key, ${state.request.algorithm} was asked for` }, [{ kind: 'destroy-token-key', await: true }], ctx);
      }
      const at = iso(ctx.now);
      const key: GeneratedKey = { keyId: d.keyId, algorithm: d.algorithm, csr: d.csr, evidence: d.evidence };
      const r = state.request;
      return new Plan(state)
        .apply({ type: 'KeyGenerated', at, key })
        .apply({ type: 'CertificateOrdered', at, deadlineAt: after(ctx, ctx.caStepMs) })
        .emit({
          message: 'IssueCertificate',
          data: {
            requestId: r.requestId, profile: 'temporary-hardware-key', csr: key.csr, authorization: r.authorization,
            tokenSerial: r.token.serial, algorithm: key.algorithm, notBefore: r.validity.notBefore, notAfter: r.validity.notAfter, evidence: key.evidence,
          },
        })
        .decision();
    }
    case 'compensating':
    case 'failed':
      if (state.key?.keyId === d.keyId) return ignored('duplicate TokenKeyGenerated');
      // Generated after the saga gave up (a late reply): the key must not stay on the token.
      return { outcome: 'applied', events: [], send: [destroyCommand(state.request, 'late-reply')] };
    case 'requested':
    case 'key-generated':
    case 'certificate-issuing':
    case 'certificate-issued':
    case 'installing':
    case 'completed':
      return ignored(state.status !== 'requested' && state.key.keyId === d.keyId ? 'duplicate TokenKeyGenerated' : `TokenKeyGenerated in ${state.status}`);
    default: return assertNever(state);
  }
}

function onTokenKeyGenerationFailed(input: Extract<SagaInput, { type: 'TokenKeyGenerationFailed' }>, state: StartedState, ctx: SagaContext): Decision {
  const bad = foreign(state, input.agentId, input.data.tokenSerial);
  if (bad) return rejected(bad);
  if (state.status !== 'key-generating') return ignored(`TokenKeyGenerationFailed in ${state.status}`);
  const { code, message } = input.data;
  const compensations: Compensation[] = FAILS_BEFORE_KEY_EXISTS.has(code) ? [] : [{ kind: 'destroy-token-key', await: true }];
  return fail(state, { code: failureOfTokenCode(code, 'generate'), detail: message || code }, compensations, ctx);
}

function onCertificateIssued(input: Extract<SagaInput, { type: 'CertificateIssued' }>, state: StartedState, ctx: SagaContext): Decision {
  const c = input.data.certificate;
  const known = 'certificate' in state ? state.certificate : null;
  if (known && sameSerial(known.serialNumber, c.serialNumber)) return ignored('duplicate CertificateIssued');
  switch (state.status) {
    case 'certificate-issuing': {
      const certificate: IssuedCertificate = { ...c };
      if (new Date(c.notAfter).getTime() > new Date(state.request.validity.notAfter).getTime()) {
        return fail(state, { code: 'ca-rejected', detail: `the CA issued a certificate ending ${c.notAfter}, after the agreed ${state.request.validity.notAfter}` }, [
          { kind: 'revoke-certificate', serialNumber: c.serialNumber, await: true },
          { kind: 'destroy-token-key', await: true },
        ], ctx);
      }
      const at = iso(ctx.now);
      return new Plan(state)
        .apply({ type: 'CertificateReceived', at, certificate })
        .apply({ type: 'InstallOrdered', at, deadlineAt: after(ctx, ctx.agentStepMs) })
        .emit({
          message: 'InstallCertificate', agentId: state.request.token.agentId,
          data: { requestId: state.request.requestId, tokenSerial: state.request.token.serial, keyId: state.key.keyId, certificate: c.der },
        })
        .decision();
    }
    case 'compensating':
    case 'failed':
    case 'certificate-issued':
    case 'installing':
    case 'completed':
      // Issued after the saga gave up on the CA, or a second certificate for one request: revoke it.
      return { outcome: 'applied', events: [], send: [revokeCommand(state.request, c.serialNumber, known ? 'a second certificate for one request' : 'issued after the saga gave up')] };
    case 'requested':
    case 'key-generating':
    case 'key-generated':
      return ignored(`CertificateIssued in ${state.status}`);
    default: return assertNever(state);
  }
}

function onCertificateRejected(input: Extract<SagaInput, { type: 'CertificateRejected' }>, state: StartedState, ctx: SagaContext): Decision {
  if (state.status !== 'certificate-issuing') return ignored(`CertificateRejected in ${state.status}`);
  const { code, message } = input.data;
  return fail(state, { code: failureOfCaCode(code), detail: `${code}: ${message}` }, [{ kind: 'destroy-token-key', await: true }], ctx);
}

function onCertificateInstalled(input: Extract<SagaInput, { type: 'CertificateInstalled' }>, state: StartedState, ctx: SagaContext): Decision {
  const bad = foreign(state, input.agentId, input.data.tokenSerial);
  if (bad) return rejected(bad);
  if (state.status !== 'installing') return ignored(`CertificateInstalled in ${state.status}`);
  const d = input.data;
  if (d.keyId !== state.key.keyId || !sameSerial(d.certificateSerialNumber, state.certificate.serialNumber)) {
    return rejected(`CertificateInstalled names key ${d.keyId} / certificate ${d.certificateSerialNumber}, the saga has ${state.key.keyId} / ${state.certificate.serialNumber}`);
  }
  const at = iso(ctx.now);
  const r = state.request;
  return new Plan(state)
    .apply({ type: 'Completed', at })
    .emit({
      message: 'TemporaryHardwareKeyFormed',
      data: {
        requestId: r.requestId, userId: r.userId, baseKeyId: r.baseKeyId, keyAccountId: r.keyAccountId, token: r.token,
        tokenKeyId: state.key.keyId, algorithm: state.key.algorithm, certificate: { ...state.certificate }, formedAt: at,
      },
    })
    .decision();
}

function onCertificateInstallFailed(input: Extract<SagaInput, { type: 'CertificateInstallFailed' }>, state: StartedState, ctx: SagaContext): Decision {
  const bad = foreign(state, input.agentId, input.data.tokenSerial);
  if (bad) return rejected(bad);
  if (state.status !== 'installing') return ignored(`CertificateInstallFailed in ${state.status}`);
  const { code, message } = input.data;
  return fail(state, { code: failureOfTokenCode(code, 'install'), detail: message || code }, [
    { kind: 'revoke-certificate', serialNumber: state.certificate.serialNumber, await: true },
    { kind: 'destroy-token-key', await: true },
  ], ctx);
}

function onTokenKeyDestroyed(input: Extract<SagaInput, { type: 'TokenKeyDestroyed' }>, state: StartedState, ctx: SagaContext): Decision {
  const bad = foreign(state, input.agentId, input.data.tokenSerial);
  if (bad) return rejected(bad);
  if (state.status !== 'compensating' || state.awaiting?.kind !== 'destroy-token-key') return ignored(`TokenKeyDestroyed in ${state.status}`);
  const remaining = input.data.privateKeyRemaining;
  // The agent destroyed what it could; a private key it could not reach stays on the token, and the failure says so.
  const leftBehind = remaining ? clip(`the private key could not be removed from the token [${remaining.code}]: ${remaining.message}`, 400) : undefined;
  const plan = new Plan(state).apply({ type: 'CompensationSettled', at: iso(ctx.now), confirmed: true, ...(leftBehind ? { leftBehind } : {}) });
  runCompensations(plan, ctx);
  return plan.decision();
}

function onCertificateRevoked(input: Extract<SagaInput, { type: 'CertificateRevoked' }>, state: StartedState, ctx: SagaContext): Decision {
  if (state.status !== 'compensating' || state.awaiting?.kind !== 'revoke-certificate' || !sameSerial(state.awaiting.serialNumber, input.data.serialNumber)) {
    return ignored(`CertificateRevoked in ${state.status}`);
  }
  const plan = new Plan(state).apply({ type: 'CompensationSettled', at: iso(ctx.now), confirmed: true });
  runCompensations(plan, ctx);
  return plan.decision();
}

function onDeadlineExpired(state: StartedState, ctx: SagaContext): Decision {
  if (state.deadlineAt === null || new Date(state.deadlineAt).getTime() > ctx.now.getTime()) return ignored('no deadline due');
  switch (state.status) {
    case 'key-generating':
      // The agent may still generate the key after we gave up: destroy it, without waiting for an agent that is not answering.
      return fail(state, { code: 'agent-timeout', detail: `the signing agent did not generate the key within ${seconds(ctx.agentStepMs)}` }, [{ kind: 'destroy-token-key', await: false }], ctx);
    case 'certificate-issuing':
      return fail(state, { code: 'certificate-timeout', detail: `the certificate authority did not answer within ${seconds(ctx.caStepMs)}` }, [{ kind: 'destroy-token-key', await: true }], ctx);
    case 'installing':
      return fail(state, { code: 'agent-timeout', detail: `the signing agent did not confirm writing the certificate within ${seconds(ctx.agentStepMs)}` }, [
        { kind: 'revoke-certificate', serialNumber: state.certificate.serialNumber, await: true },
        { kind: 'destroy-token-key', await: false },
      ], ctx);
    case 'compensating': {
      if (!state.awaiting) return ignored('no compensation awaited');
      const plan = new Plan(state).apply({ type: 'CompensationSettled', at: iso(ctx.now), confirmed: false });
      runCompensations(plan, ctx);
      return plan.decision();
    }
    case 'requested':
    case 'key-generated':
    case 'certificate-issued':
    case 'completed':
    case 'failed':
      return ignored(`no deadline in ${state.status}`);
    default: return assertNever(state);
  }
}

function assertNever(value: never): never {
  throw new Error(`unhandled saga state ${tagOf(value, 'status')}`);
}

/**
 * The tag of a value that an exhaustive switch did not expect, for the error message. Never the whole
 * value: states, inputs and commands carry sealed PINs and the authorization, and errors reach logs.
 */
export function tagOf(value: unknown, tag: string): string {
  const v = typeof value === 'object' && value !== null ? (value as Record<string, unknown>)[tag] : undefined;
  return typeof v === 'string' ? JSON.stringify(v.slice(0, 64)) : `(no ${tag})`;
}

// ───────────────────────────── react: decide + evolve + progress ─────────────────────────────

export interface Reaction {
  decision: Decision;
  state: SagaState;
  /** The decision's messages followed by one progress event per new step. */
  send: Outbound[];
}

/**
 * Runs one input through the saga. Every state change is also a `HardwareKeyRequestProgressed`
 * whose `sequence` is the step's 1-based position, so the sequence is gap-free by construction.
 */
export function react(state: SagaState, input: SagaInput, ctx: SagaContext): Reaction {
  const decision = decide(input, state, ctx);
  if (decision.outcome !== 'applied') return { decision, state, send: [] };
  const next = decision.events.reduce(evolve, state);
  return { decision, state: next, send: [...decision.send, ...progressOf(state, next)] };
}

export function progressOf(before: SagaState, after: SagaState): Outbound[] {
  if (after.status === 'none') return [];
  const known = before.status === 'none' ? 0 : before.steps.length;
  return after.steps.slice(known).map((step, i) => ({
    message: 'HardwareKeyRequestProgressed' as const,
    data: {
      requestId: after.request.requestId,
      userId: after.request.userId,
      sequence: known + i + 1,
      status: step.state,
      at: step.at,
      keyId: step.state === 'completed' ? after.request.keyAccountId : null,
      failure: (step.state === 'compensating' || step.state === 'failed') && (after.status === 'compensating' || after.status === 'failed')
        ? { code: after.failure.code, detail: step.state === 'failed' ? failureDetail(after) : after.failure.detail }
        : null,
    },
  }));
}
