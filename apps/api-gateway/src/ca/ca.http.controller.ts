import { Controller, Get, Inject, Res } from '@nestjs/common';
import type { FastifyReply } from 'fastify';
import { GetCaCertificateV1, GetCrlV1 } from '@thk/contracts';
import { AppError } from '@thk/core';
import { pemToDers } from '@thk/pki';
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
    const der = await currentCrl(this.gw);
    reply.header('content-type', 'application/pkix-crl');
    return der;
  }
}

/** The CA gateway's current CRL, DER. */
async function currentCrl(gw: GatewayContext): Promise<Buffer> {
  const { der } = await gw.rpc.call(GetCrlV1, {});
  return Buffer.from(der, 'base64');
}

/**
 * The same CA certificate and CRL for relying parties, without authentication and outside `/v1`:
 * the certificates' CRL distribution point (CA_CRL_URL) names `/pki/crl`, and whoever checks a
 * signature fetches it with no cabinet login. Both are public by nature (RFC 5280 §4.2.1.13, §4.2.2.1).
 */
@Controller('pki')
export class PkiHttpController {
  constructor(@Inject(GATEWAY) private readonly gw: GatewayContext) {}

  @Get('crl')
  async crl(@Res({ passthrough: true }) reply: FastifyReply): Promise<Buffer> {
    const der = await currentCrl(this.gw);
    reply.header('content-type', 'application/pkix-crl').header('cache-control', 'public, max-age=60');
    return der;
  }

  @Get('ca.crt')
  async certificate(@Res({ passthrough: true }) reply: FastifyReply): Promise<Buffer> {
    const { pem } = await this.gw.rpc.call(GetCaCertificateV1, {});
    reply.header('content-type', 'application/pkix-cert').header('cache-control', 'public, max-age=300');
    const [der] = pemToDers(pem);
    if (!der) throw new AppError('internal', 'the CA gateway answered no certificate');
    return Buffer.from(der);
  }
}
