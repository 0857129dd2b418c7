import { Controller, Inject } from '@nestjs/common';
import { MessagePattern, Payload } from '@nestjs/microservices';
import { CertifyCloudKeyV1, type RpcRequest, type RpcResponse } from '@thk/contracts';
import { CertifyCloudKeyService } from './certify-cloud-key.service.js';

/** Development users' cloud keys (answers `not-available` outside development mode). */
@Controller()
export class CertifyCloudKeyRpcController {
  constructor(@Inject(CertifyCloudKeyService) private readonly service: CertifyCloudKeyService) {}

  @MessagePattern<string>(CertifyCloudKeyV1.subject)
  certify(@Payload() req: RpcRequest<typeof CertifyCloudKeyV1>): Promise<RpcResponse<typeof CertifyCloudKeyV1>> {
    return this.service.certify(req);
  }
}
