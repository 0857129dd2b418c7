import { Controller, Get, Header, Inject } from '@nestjs/common';
import { GATEWAY, type GatewayContext } from '../gateway.context.js';

@Controller('v1')
export class OpenApiHttpController {
  constructor(@Inject(GATEWAY) private readonly gw: GatewayContext) {}

  /** No authentication: the contract is public. */
  @Get('openapi.json')
  @Header('cache-control', 'no-cache')
  document(): Record<string, unknown> {
    return this.gw.openApiDocument;
  }
}
