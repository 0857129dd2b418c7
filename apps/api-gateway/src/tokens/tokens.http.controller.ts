import { Controller, Get, Inject } from '@nestjs/common';
import { ListTokensV1, type TokenView } from '@thk/contracts';
import type { AuthenticatedUser } from '../auth/authenticator.js';
import { CurrentUser } from '../auth/current-user.decorator.js';
import { GATEWAY, type GatewayContext } from '../gateway.context.js';

@Controller('v1/tokens')
export class TokensHttpController {
  constructor(@Inject(GATEWAY) private readonly gw: GatewayContext) {}

  @Get()
  async list(@CurrentUser() user: AuthenticatedUser): Promise<{ items: TokenView[] }> {
    return this.gw.rpc.call(ListTokensV1, { userId: user.userId });
  }
}
