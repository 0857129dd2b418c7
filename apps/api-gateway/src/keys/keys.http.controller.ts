import { Controller, Get, Inject, Param, Query, Res } from '@nestjs/common';
import type { FastifyReply } from 'fastify';
import { GetKeyCertificateV1, GetKeyV1, ListKeysV1, type KeyAccount } from '@thk/contracts';
import type { AuthenticatedUser } from '../auth/authenticator.js';
import { CurrentUser } from '../auth/current-user.decorator.js';
import { GATEWAY, type GatewayContext } from '../gateway.context.js';
import { listKeysQuery } from '../http/api-routes.js';
import { parseId, parseInput } from '../http/validation.js';

@Controller('v1/keys')
export class KeysHttpController {
  constructor(@Inject(GATEWAY) private readonly gw: GatewayContext) {}

  @Get()
  async list(@CurrentUser() user: AuthenticatedUser, @Query() query: unknown): Promise<{ items: KeyAccount[]; nextCursor: string | null }> {
    const q = parseInput(listKeysQuery, query, 'query');
    return this.gw.rpc.call(ListKeysV1, { userId: user.userId, limit: q.limit, cursor: q.cursor ?? null });
  }

  @Get(':keyId')
  async get(@CurrentUser() user: AuthenticatedUser, @Param('keyId') keyId: string): Promise<KeyAccount> {
    const { key } = await this.gw.rpc.call(GetKeyV1, { userId: user.userId, keyId: parseId(keyId) });
    return key;
  }

  @Get(':keyId/certificate')
  async certificate(
    @CurrentUser() user: AuthenticatedUser,
    @Param('keyId') keyId: string,
    @Res({ passthrough: true }) reply: FastifyReply,
  ): Promise<Buffer> {
    const id = parseId(keyId);
    const { der } = await this.gw.rpc.call(GetKeyCertificateV1, { userId: user.userId, keyId: id });
    reply.header('content-type', 'application/pkix-cert').header('content-disposition', `attachment; filename="${id}.cer"`);
    return Buffer.from(der, 'base64');
  }
}
