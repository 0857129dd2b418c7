import { Body, Controller, Get, Headers, HttpCode, Inject, Param, Post, Query, Res } from '@nestjs/common';
import type { FastifyReply } from 'fastify';
import { z } from 'zod';
import { PreviewValidityV1, RequestTemporaryHardwareKeyV1 } from '@thk/contracts';
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
   * Refusal order (api.md): 401 (the hook), 400 for the body or the Idempotency-Key, 404 for a
   * key id that cannot exist, 429 when passwords come too fast, then issuance's own checks.
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
    const body = parseInput(formTemporaryHardwareKeyBody, rawBody, 'body');
    const { 'Idempotency-Key': idempotencyKey } = parseInput(idempotencyHeaders, { 'Idempotency-Key': headerValue(headers['idempotency-key']) }, 'header');
    const baseKeyId = parseId(keyId);
    // A retry of an accepted call is answered by issuance from what it stored (no password check): not limited.
    if (!this.gw.acceptedRequests.has(user.userId, idempotencyKey)) {
      const { perUser, perKey } = this.gw.config.rateLimit;
      const limited = this.gw.limiter.take([{ key: `user:${user.userId}`, rule: perUser }, { key: `key:${baseKeyId}`, rule: perKey }]);
      if (!limited.allowed) throw httpError('rate-limited', 'too many calls with a password; retry later', { retryAfterSeconds: limited.retryAfterSeconds });
    }
    const accepted = await this.gw.rpc.call(RequestTemporaryHardwareKeyV1, {
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
    this.gw.acceptedRequests.remember(user.userId, idempotencyKey);
    reply.header('location', `/v1/hardware-key-requests/${accepted.requestId}`);
    return { requestId: accepted.requestId, status: accepted.status, validity: { notAfter: accepted.validity.notAfter, capped: accepted.validity.capped } };
  }
}
