import { randomUUID } from 'node:crypto';
import {
  AuthorizeTemporaryKeyV1, GetKeyV1, GetUserTokenV1, temporaryHardwareKeyRequestBody, temporaryHardwareKeyStart, uuid,
  type FindHardwareKeyRequestByIdempotencyKeyV1, type GetHardwareKeyRequestV1, type RequestTemporaryHardwareKeyV1, type RequestTemporaryHardwareKeyV2,
  type RpcRequest, type RpcResponse, type TokenView,
} from '@thk/contracts';
import { AppError, createLogger, type Logger } from '@thk/core';
import type { RpcClient } from '@thk/messaging';
import type { Clock } from '../config/issuance.config.js';
import type { HardwareKeyRequestEntity } from '../persistence/index.js';
import { assertEligibleBase } from '../validity/base-key.js';
import type { IssuerValidity } from '../validity/issuer-validity.service.js';
import { decideValidity, type ValidityPolicySettings } from '../validity/validity-policy.js';
import type { HardwareKeyProcessManager } from './hardware-key.process-manager.js';
import type { RequestFacts, StartedState } from './hardware-key.saga.js';
import { toRequestView } from './hardware-key-request.view.js';
import { startInputHash } from './idempotency.js';

type StartRequest = RpcRequest<typeof RequestTemporaryHardwareKeyV1>;
type StartReply = RpcResponse<typeof RequestTemporaryHardwareKeyV1>;
/** The reply, and whether it is a seen key's (`RequestTemporaryHardwareKeyV2`). */
type StartOutcome = RpcResponse<typeof RequestTemporaryHardwareKeyV2>;

/**
 * How long after the authorization's call the key's and the token's questions go out: past the
 * depository's statement before the KDF (a few milliseconds), well within the KDF (hundreds).
 */
const QUESTIONS_DELAY_MS = 20;

/**
 * `RequestTemporaryHardwareKey`: the synchronous first step. Refusals come in api.md's order, all
 * before anything is persisted:
 *
 *   idempotency replay / `idempotency-conflict` → `not-found` → `key-not-eligible` →
 *   `key-access-blocked` → `wrong-password` → `token-unavailable` → `current-token-password-required` →
 *   `base-certificate-expiring` → `algorithm-unsupported`
 *
 * Then the saga and its first messages are written in one statement. The cloud key password lives
 * only in this call's memory on its way to the depository.
 */
export class RequestHardwareKeyService {
  private readonly log: Logger;

  constructor(
    private readonly rpc: RpcClient,
    private readonly sagas: HardwareKeyProcessManager,
    private readonly issuer: IssuerValidity,
    private readonly clock: Clock,
    private readonly settings: ValidityPolicySettings,
    private readonly rpcTimeoutMs: number,
    logger?: Logger,
  ) {
    this.log = logger ?? createLogger('issuance:request');
  }

  async request(req: StartRequest): Promise<StartOutcome> {
    const inputHash = startInputHash(req);
    const call = { timeoutMs: this.rpcTimeoutMs };
    // A key already seen is answered from what was stored, before any check runs again (api.md).
    const seen = await this.sagas.findByIdempotencyKey(req.userId, req.idempotencyKey);
    if (seen) return { ...replay(seen, inputHash), replayed: true };

    // The depository checks the password (counting wrong guesses) and signs the authorization. Asked
    // first, before the key and token questions below: the KDF is most of this call, and every round trip
    // before it adds to the answer. That is safe because the depository refuses by itself, before any
    // password is tried, what the key's answer would refuse here (no such key, not the user's, not an
    // eligible base: the same rules on the same row), so no guess is counted for a key refused first;
    // a seen key never gets here. Without a known token the authorization is discarded right after:
    // the password's verdict still comes first, as the order promises.
    const requestId = randomUUID();
    const authorize = (tokenSerial: string) => this.rpc.call(AuthorizeTemporaryKeyV1, {
      userId: req.userId, baseKeyId: req.baseKeyId, password: req.cloudKeyPassword, requestId, validity: req.validity, tokenSerial,
    }, call);
    const assumedSerial = serialOfTokenId(req.tokenId);
    const authorizing = authorize(assumedSerial);
    // The key's and the token's questions only read, and their answers are needed only once the
    // password's verdict is in. Asked at once, accounts would answer them at the very moment it runs
    // the authorization's statement (its last step before the KDF), and that statement would wait
    // behind them; asked a moment later (or when the verdict comes, if it comes first), they are
    // answered while the KDF runs. allSettled: nothing unobserved rejects.
    let questions: Promise<[PromiseSettledResult<RpcResponse<typeof GetKeyV1>>, PromiseSettledResult<RpcResponse<typeof GetUserTokenV1>>]> | undefined;
    const ask = () => (questions ??= Promise.allSettled([
      this.rpc.call(GetKeyV1, { userId: req.userId, keyId: req.baseKeyId }, call),
      this.rpc.call(GetUserTokenV1, { userId: req.userId, tokenId: req.tokenId }, call),
    ]));
    const asking = setTimeout(ask, QUESTIONS_DELAY_MS);
    const verdict = await authorizing.then((value) => ({ ok: true as const, value }), (reason: unknown) => ({ ok: false as const, reason }));
    clearTimeout(asking);

    // Reported in api.md's order: the key's refusals, then the password's, then the token's.
    const [keyReply, tokenReply] = await ask();
    if (keyReply.status === 'rejected') throw keyReply.reason;
    assertEligibleBase(keyReply.value, this.clock());
    let token: TokenView | null = null;
    if (tokenReply.status === 'fulfilled') token = tokenReply.value.token;
    else if ((tokenReply.reason as AppError).code !== 'token-unavailable') throw tokenReply.reason;
    if (!verdict.ok) throw verdict.reason;
    let authorization = verdict.value;
    // A serial that the id does not spell plainly (one holding a ':'): the authorization must name the token's own.
    if (token && token.serial !== assumedSerial) authorization = await authorize(token.serial);
    if (!token) throw new AppError('token-unavailable', 'no such token is online for this user; connect the token and start the signing agent', { meta: { tokenId: req.tokenId } });
    if (token.userPinInitialized && req.currentTokenPassword === null) {
      throw new AppError('current-token-password-required', 'the token already has a password: the request must carry it (sealed to the agent)', { meta: { tokenId: token.tokenId } });
    }

    const now = this.clock();
    const decision = decideValidity({
      option: req.validity,
      now,
      base: {
        notBefore: new Date(authorization.baseCertificate.notBefore),
        notAfter: new Date(authorization.baseCertificate.notAfter),
        revoked: keyReply.value.certificateRevoked,
      },
      issuerNotAfter: await this.issuer.notAfter(),
    }, this.settings);
    if (!decision.ok) throw new AppError(decision.code, decision.message, { meta: { reason: decision.reason } });
    if (!token.algorithms.includes(req.algorithm)) {
      throw new AppError('algorithm-unsupported', `the token does not offer ${req.algorithm}; it offers ${token.algorithms.join(', ') || 'nothing usable'}`, { meta: { tokenId: token.tokenId } });
    }

    const request: RequestFacts = {
      requestId,
      userId: req.userId,
      baseKeyId: req.baseKeyId,
      keyAccountId: randomUUID(),
      token: { agentId: token.agentId, tokenId: token.tokenId, serial: token.serial, model: token.model, label: token.label },
      algorithm: req.algorithm,
      validity: decision.window,
      subject: authorization.subject,
      authorization: authorization.authorization,
      sealedNewPin: req.newKeyPassword,
      requestedAt: now.toISOString(),
    };
    const started = await this.sagas.start(
      { request, sealedCurrentPin: req.currentTokenPassword, idempotencyKey: req.idempotencyKey, inputHash },
      (state) => firstReply(state),
    );
    if (!started.created) return { ...replay(started.existing, inputHash), replayed: true };
    this.log.info({ requestId, baseKeyId: req.baseKeyId, agentId: token.agentId, validity: decision.window.option }, 'hardware key request started');
    return { ...started.row.reply, replayed: false };
  }

  /**
   * `FindHardwareKeyRequestByIdempotencyKey`: the stored answer for this user's key when `body` is the
   * stored request, `idempotency-conflict` when it is another (one that fails the body's schema, or a
   * key id that is not a UUID, always is), `seen: false` for a key this user never used. The body
   * (with the cloud key password) is only fingerprinted here, in memory: never logged, never stored.
   */
  async findByIdempotencyKey(req: RpcRequest<typeof FindHardwareKeyRequestByIdempotencyKeyV1>): Promise<RpcResponse<typeof FindHardwareKeyRequestByIdempotencyKeyV1>> {
    const row = await this.sagas.findByIdempotencyKey(req.userId, req.idempotencyKey);
    if (!row) return { seen: false };
    const body = temporaryHardwareKeyRequestBody.safeParse(req.body);
    const baseKeyId = uuid.safeParse(req.baseKeyId);
    if (!body.success || !baseKeyId.success) throw idempotencyConflict(row);
    const inputHash = startInputHash(temporaryHardwareKeyStart({ userId: req.userId, baseKeyId: baseKeyId.data, idempotencyKey: req.idempotencyKey }, body.data));
    return { seen: true, reply: replay(row, inputHash) };
  }

  /** `GetHardwareKeyRequest`: another user's request answers `not-found`, exactly as a missing one. */
  async get(req: RpcRequest<typeof GetHardwareKeyRequestV1>): Promise<RpcResponse<typeof GetHardwareKeyRequestV1>> {
    const row = await this.sagas.load(req.requestId);
    if (!row || row.userId !== req.userId) throw new AppError('not-found', 'no such hardware key request', { meta: { requestId: req.requestId } });
    return toRequestView(row.state);
  }
}

function firstReply(state: StartedState): StartReply {
  const { validity } = state.request;
  return { requestId: state.request.requestId, status: state.status, validity: { notBefore: validity.notBefore, notAfter: validity.notAfter, capped: validity.capped } };
}

function replay(row: HardwareKeyRequestEntity, inputHash: string): StartReply {
  if (row.inputHash !== inputHash) throw idempotencyConflict(row);
  return row.reply;
}

function idempotencyConflict(row: HardwareKeyRequestEntity): AppError {
  return new AppError('idempotency-conflict', 'this Idempotency-Key was used for another request; use a new key for a new request', { meta: { requestId: row.requestId } });
}

/** `<agentId>:<serial>` is how accounts names tokens; any other id is passed whole (bounded). */
export function serialOfTokenId(tokenId: string): string {
  const serial = tokenId.slice(tokenId.lastIndexOf(':') + 1) || tokenId;
  return serial.slice(0, 64);
}
