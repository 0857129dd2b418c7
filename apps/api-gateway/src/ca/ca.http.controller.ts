import { Controller, Get, Inject, Res } from '@nestjs/common';
import type { FastifyReply } from 'fastify';
import { GetCaCertificateV1, GetCrlV1 } from '@thk/contracts';
import { GATEWAY, type GatewayContext } from '../gateway.context.js';

/** The built-in CA's certificate and CRL (any authenticated user may fetch them). */
@Controller('v1/ca')
export class CaHttpController {
  constructor(@Inject(GATEWAY) private readonly gw: GatewayContext) {}

  @Get('certificate')
  async certificate(@Res({ passthrough: true }) reply: FastifyReply): Promise<string> {
    const { pem } = await this.gw.rpc.call(GetCaCertificateV1, {});
    reply.header('content-type', 'application/x-pem-file');
    return pem;
  }

  @Get('crl')
  async crl(@Res({ passthrough: true }) reply: FastifyReply): Promise<Buffer> {
    const { der } = await this.gw.rpc.call(GetCrlV1, {});
    reply.header('content-type', 'application/pkix-crl');
    return Buffer.from(der, 'base64');
  }
}
