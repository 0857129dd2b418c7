import { Body, Controller, Get, Headers, HttpCode, Inject, Param, Post, Query, Res } from '@nestjs/common';
import type { FastifyReply } from 'fastify';
import { z } from 'zod';
import { PreviewValidityV1, RequestTemporaryHardwareKeyV1, uuid } from '@thk/contracts';
import { AppError } from '@thk/core';
import type { AuthenticatedUser } from '../auth/authenticator.js';
import { CurrentUser } from '../auth/current-user.decorator.js';
import { GATEWAY, type GatewayContext } from '../gateway.context.js';
import { formTemporaryHardwareKeyBody, idempotencyKeyHeader, previewQuery } from '../http/api-routes.js';
import { httpError } from '../http/problem.js';
import { headerValue, parseId, parseInput } from '../http/validation.js';

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
   * "Seen" is known two ways. Issuance itself answers a key it stored (same body → the stored 202,
   * another body → 409) before its checks, whichever replica asks. The gateway cannot ask issuance
   * about a key without a full, valid request (contracts have no lookup by user and key), so
   * `acceptedRequests` caches the keys issuance has answered for as stored (a 202 or an
   * `idempotency-conflict`): with it, a seen key skips the body's 400, the 404 and the rate limit —
   * a body that does not even parse cannot be the stored one, so it is 409 at once, and any valid
   * body goes to issuance, which compares it with what it stored. A replica that has not cached the
   * key (restarted, another one, forgotten) falls back to the new-key order until issuance's first
   * answer.
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
    const seen = this.gw.acceptedRequests.has(user.userId, idempotencyKey);
    let body: z.infer<typeof formTemporaryHardwareKeyBody>;
    let baseKeyId: string;
    if (seen) {
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
    let accepted;
    try {
      accepted = await this.gw.rpc.call(RequestTemporaryHardwareKeyV1, {
        userId: user.userId,
        baseKeyId,
        idempotencyKey,
        validity: body.validity,
        tokenId: body.tokenId,
        cloudKeyPassword: body.cloudKeyPassword,
        newKeyPassword: body.newKeyPassword,
        currentTokenPassword: body.currentTokenPassword ?? null,
        algorithm: body.algorithm ?? 'EC-P256',
      }, { timeoutMs: this.gw.config.rpc.formingTimeoutMs });
    } catch (error) {
      // The key is stored under another body: it is seen from now on.
      if (error instanceof AppError && error.code === 'idempotency-conflict') this.gw.acceptedRequests.remember(user.userId, idempotencyKey);
      throw error;
    }
    this.gw.acceptedRequests.remember(user.userId, idempotencyKey);
    reply.header('location', `/v1/hardware-key-requests/${accepted.requestId}`);
    return { requestId: accepted.requestId, status: accepted.status, validity: { notAfter: accepted.validity.notAfter, capped: accepted.validity.capped } };
  }
}

function idempotencyConflict(): AppError {
  return httpError('idempotency-conflict', 'this Idempotency-Key was used for another request; use a new key for a new request');
}
