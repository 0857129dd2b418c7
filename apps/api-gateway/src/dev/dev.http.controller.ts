import { Body, Controller, HttpCode, Inject, Ip, Post } from '@nestjs/common';
import { CreateDevUserV1, FindDevUserV1 } from '@thk/contracts';
import { GATEWAY, type GatewayContext } from '../gateway.context.js';
import { devSessionBody, devUserBody } from '../http/api-routes.js';
import { httpError } from '../http/problem.js';
import { parseInput } from '../http/validation.js';

/**
 * Development mode only (AUTH_MODE=dev): outside it this controller is not registered at all,
 * so its paths answer 404 exactly like any unknown route.
 */
@Controller('v1/dev')
export class DevHttpController {
  constructor(@Inject(GATEWAY) private readonly gw: GatewayContext) {}

  @Post('session')
  @HttpCode(200)
  async session(@Body() rawBody: unknown): Promise<{ accessToken: string; expiresAt: string }> {
    const { rnokpp } = parseInput(devSessionBody, rawBody, 'body');
    const issuer = this.gw.devIssuer;
    if (!issuer) throw httpError('not-found', 'no such resource');
    const { userId } = await this.gw.rpc.call(FindDevUserV1, { rnokpp });
    return issuer.issue(userId);
  }

  @Post('users')
  @HttpCode(201)
  async createUser(@Body() rawBody: unknown, @Ip() ip: string): Promise<{ userId: string; keyId: string }> {
    const body = parseInput(devUserBody, rawBody, 'body');
    // It carries a password: limited like every such call (per client here, there is no user yet).
    const limited = this.gw.limiter.take([{ key: `client:${ip}`, rule: this.gw.config.rateLimit.perClient }]);
    if (!limited.allowed) throw httpError('rate-limited', 'too many calls with a password; retry later', { retryAfterSeconds: limited.retryAfterSeconds });
    return this.gw.rpc.call(CreateDevUserV1, {
      fullName: body.fullName,
      rnokpp: body.rnokpp,
      organization: body.organization ?? null,
      edrpou: body.edrpou ?? null,
      position: body.position ?? null,
      cloudKeyPassword: body.cloudKeyPassword,
      certificate: body.certificate ?? null,
    }, { timeoutMs: this.gw.config.rpc.formingTimeoutMs });
  }
}
