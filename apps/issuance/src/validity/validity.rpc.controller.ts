import { Controller, Inject } from '@nestjs/common';
import { MessagePattern, Payload } from '@nestjs/microservices';
import { PreviewValidityV1, type RpcRequest, type RpcResponse } from '@thk/contracts';
import { PreviewValidityService } from './preview-validity.service.js';

@Controller()
export class ValidityRpcController {
  constructor(@Inject(PreviewValidityService) private readonly previews: PreviewValidityService) {}

  @MessagePattern<string>(PreviewValidityV1.subject)
  preview(@Payload() req: RpcRequest<typeof PreviewValidityV1>): Promise<RpcResponse<typeof PreviewValidityV1>> {
    return this.previews.preview(req);
  }
}
