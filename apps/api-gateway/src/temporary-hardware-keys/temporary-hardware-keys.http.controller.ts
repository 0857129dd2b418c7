import { Body, Controller, Get, Headers, HttpCode, Inject, Param, Post, Query, Res } from '@nestjs/common';
import type { FastifyReply } from 'fastify';
import { z } from 'zod';
import {
  FindHardwareKeyRequestByIdempotencyKeyV1, PreviewValidityV1, RequestTemporaryHardwareKeyV1, RequestTemporaryHardwareKeyV2, temporaryHardwareKeyStart, uuid, type RpcResponse,
} from '@thk/contracts';
import { AppError } from '@thk/core';
import type { BucketRequests } from '../rate-limit/token-bucket.js';
import type { AuthenticatedUser } from '../auth/authenticator.js';
import { CurrentUser } from '../auth/current-user.decorator.js';
import { GATEWAY, type GatewayContext } from '../gateway.context.js';
import { formTemporaryHardwareKeyBody, idempotencyKeyHeader, previewQuery } from '../http/api-routes.js';
import { httpError } from '../http/problem.js';
import { headerValue, parseId, parseInput, UnreadableBody } from '../http/validation.js';

const idempotencyHeaders = z.object({ 'Idempotency-Key': idempotencyKeyHeader });

/** The dialog's two calls: preview the validity, then form the key (which starts the saga). */
@Controller('v1/keys/:keyId/temporary-hardware-keys')
export class TemporaryHardwareKeysHttpController {
  constructor(@Inject(GATEWAY) private readonly gw: GatewayContext) {}

  @Get('preview')
  async preview(@CurrentUser() user: AuthenticatedUser, @Param('keyId') keyId: string, @Query() query: unknown) {
    const { validity } = parseInput(previewQuery, query, 'query');
    return this.gw.rpc.call(PreviewValidityV1, { userId: user.userId, keyId: parseId(keyId), validity });
  }

  /**
   * Order (api.md): 401 (the hook); the `Idempotency-Key` (400 when missing or malformed: there is
   * nothing to look up); then a key already seen is answered from what issuance stored before any
   * other check runs again; then, for a new key, 400 for the body, 404 for a key id that cannot
   * exist, 429 when passwords come too fast, and issuance's own checks.
   *
   * "Seen" is issuance's store. A body and key id that parse, with a token left under both password
   * limits, go straight to `RequestTemporaryHardwareKeyV2` (one round trip before the KDF instead of
   * two): issuance looks the key up before any of its checks and says whether its answer is a replay,
   * and a replay (or its `idempotency-conflict`) gives the token back, so a seen key costs no token, as
   * if no check had run. Anything else (a body or id that does not parse, a spent limit) first asks
   * `FindHardwareKeyRequestByIdempotencyKey` (the raw body and path id: issuance compares their
   * fingerprint with the stored one, in memory): a seen key answers the stored 202 or 409, with no body
   * 400, no 404 and no rate limit, whichever replica is asked and however long after.
   * `acceptedRequests` caches the keys issuance has answered for as stored (a 202 or an
   * `idempotency-conflict`), so that a retry this replica knows takes no token and skips the lookup: a
   * body that does not even parse is 409 at once, and a valid one goes straight to issuance.
   */
  @Post()
  @HttpCode(202)
  async form(
    @CurrentUser() user: AuthenticatedUser,
    @Param('keyId') keyId: string,
    @Headers() headers: Record<string, string | string[] | undefined>,
    @Body() rawBody: unknown,
    @Res({ passthrough: true }) reply: FastifyReply,
  ) {
    const { 'Idempotency-Key': idempotencyKey } = parseInput(idempotencyHeaders, { 'Idempotency-Key': headerValue(headers['idempotency-key']) }, 'header');
    const parsedBody = formTemporaryHardwareKeyBody.safeParse(rawBody);
    const parsedId = uuid.safeParse(keyId);
    const cached = this.gw.acceptedRequests.has(user.userId, idempotencyKey);
    if (cached) {
      if (!parsedBody.success || !parsedId.success) throw idempotencyConflict();
      return accepted(reply, await this.start(user.userId, parsedId.data, idempotencyKey, parsedBody.data, null));
    }
    const { perUser, perKey } = this.gw.config.rateLimit;
    const limits: BucketRequests = parsedId.success ? [{ key: `user:${user.userId}`, rule: perUser }, { key: `key:${parsedId.data}`, rule: perKey }] : [];
    if (parsedBody.success && parsedId.success && this.gw.limiter.take(limits).allowed) {
      return accepted(reply, await this.start(user.userId, parsedId.data, idempotencyKey, parsedBody.data, limits));
    }
    const stored = await this.findStored(user.userId, idempotencyKey, keyId, rawBody);
    if (stored) return accepted(reply, stored);
    const body = parseInput(formTemporaryHardwareKeyBody, rawBody, 'body');
    const baseKeyId = parseId(keyId);
    const limited = this.gw.limiter.take(limits);
    if (!limited.allowed) throw httpError('rate-limited', 'too many calls with a password; retry later', { retryAfterSeconds: limited.retryAfterSeconds });
    return accepted(reply, await this.start(user.userId, baseKeyId, idempotencyKey, body, limits));
  }

  /**
   * Issuance's start (or its stored answer, for a seen key). `limits`: the buckets a token was taken
   * from for this call, given back when the key turns out to be seen (the answer is a replay, or the
   * key's `idempotency-conflict`): no password was tried. The key is cached as seen either way.
   */
  private async start(
    userId: string, baseKeyId: string, idempotencyKey: string, body: z.infer<typeof formTemporaryHardwareKeyBody>,
    limits: BucketRequests | null,
  ): Promise<StartReply> {
    let started: RpcResponse<typeof RequestTemporaryHardwareKeyV2>;
    try {
      started = await this.gw.rpc.call(RequestTemporaryHardwareKeyV2, temporaryHardwareKeyStart({ userId, baseKeyId, idempotencyKey }, body), { timeoutMs: this.gw.config.rpc.formingTimeoutMs });
    } catch (error) {
      // The key is stored under another body: it is seen from now on.
      if (error instanceof AppError && error.code === 'idempotency-conflict') {
        this.gw.acceptedRequests.remember(userId, idempotencyKey);
        if (limits) this.gw.limiter.giveBack(limits);
      }
      throw error;
    }
    this.gw.acceptedRequests.remember(userId, idempotencyKey);
    if (started.replayed && limits) this.gw.limiter.giveBack(limits);
    return started;
  }

  /**
   * Issuance's stored answer for a key this replica has not cached: the reply for the same body,
   * `idempotency-conflict` (thrown) for another, `null` for a key never used. A timeout is
   * `service-unavailable` like any downstream one. The body goes only to issuance (core NATS).
   */
  private async findStored(userId: string, idempotencyKey: string, keyId: string, rawBody: unknown): Promise<StartReply | null> {
    let found: RpcResponse<typeof FindHardwareKeyRequestByIdempotencyKeyV1>;
    try {
      found = await this.gw.rpc.call(FindHardwareKeyRequestByIdempotencyKeyV1, {
        userId, idempotencyKey, baseKeyId: keyId, body: rawBody instanceof UnreadableBody ? null : rawBody,
      });
    } catch (error) {
      if (error instanceof AppError && error.code === 'idempotency-conflict') this.gw.acceptedRequests.remember(userId, idempotencyKey);
      throw error;
    }
    if (!found.seen) return null;
    this.gw.acceptedRequests.remember(userId, idempotencyKey);
    return found.reply;
  }
}

type StartReply = RpcResponse<typeof RequestTemporaryHardwareKeyV1>;

/** api.md's 202: the request, with `Location`. */
function accepted(reply: FastifyReply, started: StartReply) {
  reply.header('location', `/v1/hardware-key-requests/${started.requestId}`);
  return { requestId: started.requestId, status: started.status, validity: { notAfter: started.validity.notAfter, capped: started.validity.capped } };
}

function idempotencyConflict(): AppError {
  return httpError('idempotency-conflict', 'this Idempotency-Key was used for another request; use a new key for a new request');
}
