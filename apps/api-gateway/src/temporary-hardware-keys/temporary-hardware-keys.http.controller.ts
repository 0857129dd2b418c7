import { Body, Controller, Get, Headers, HttpCode, Inject, Param, Post, Query, Res } from '@nestjs/common';
import type { FastifyReply } from 'fastify';
import { z } from 'zod';
import {
  FindHardwareKeyRequestByIdempotencyKeyV1, PreviewValidityV1, RequestTemporaryHardwareKeyV1, temporaryHardwareKeyStart, uuid, type RpcResponse,
} from '@thk/contracts';
import { AppError } from '@thk/core';
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
   * "Seen" is issuance's store, asked with `FindHardwareKeyRequestByIdempotencyKey` (the raw body and
   * path id: issuance compares their fingerprint with the stored one, in memory): a seen key answers
   * the stored 202 or 409, with no body 400, no 404 and no rate limit, whichever replica is asked and
   * however long after. `acceptedRequests` caches the keys issuance has answered for as stored (a 202
   * or an `idempotency-conflict`), so that a retry this replica knows skips the lookup: a body that
   * does not even parse is 409 at once, and a valid one goes straight to `RequestTemporaryHardwareKey`,
   * which compares it with what it stored before its checks.
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
    const cached = this.gw.acceptedRequests.has(user.userId, idempotencyKey);
    if (!cached) {
      const stored = await this.findStored(user.userId, idempotencyKey, keyId, rawBody);
      if (stored) return accepted(reply, stored);
    }
    let body: z.infer<typeof formTemporaryHardwareKeyBody>;
    let baseKeyId: string;
    if (cached) {
      const parsedBody = formTemporaryHardwareKeyBody.safeParse(rawBody);
      const parsedId = uuid.safeParse(keyId);
      if (!parsedBody.success || !parsedId.success) throw idempotencyConflict();
      body = parsedBody.data;
      baseKeyId = parsedId.data;
    } else {
      body = parseInput(formTemporaryHardwareKeyBody, rawBody, 'body');
      baseKeyId = parseId(keyId);
      const { perUser, perKey } = this.gw.config.rateLimit;
      const limited = this.gw.limiter.take([{ key: `user:${user.userId}`, rule: perUser }, { key: `key:${baseKeyId}`, rule: perKey }]);
      if (!limited.allowed) throw httpError('rate-limited', 'too many calls with a password; retry later', { retryAfterSeconds: limited.retryAfterSeconds });
    }
    let started;
    try {
      started = await this.gw.rpc.call(RequestTemporaryHardwareKeyV1, temporaryHardwareKeyStart({ userId: user.userId, baseKeyId, idempotencyKey }, body), { timeoutMs: this.gw.config.rpc.formingTimeoutMs });
    } catch (error) {
      // The key is stored under another body: it is seen from now on.
      if (error instanceof AppError && error.code === 'idempotency-conflict') this.gw.acceptedRequests.remember(user.userId, idempotencyKey);
      throw error;
    }
    this.gw.acceptedRequests.remember(user.userId, idempotencyKey);
    return accepted(reply, started);
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
