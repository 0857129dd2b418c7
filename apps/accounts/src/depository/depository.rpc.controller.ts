import { Controller, Inject } from '@nestjs/common';
import { MessagePattern, Payload } from '@nestjs/microservices';
import { AuthorizeTemporaryKeyV1, UnblockKeyAccessV1, type RpcRequest, type RpcResponse } from '@thk/contracts';
import { Depository } from './depository.service.js';
import { TemporaryKeyAuthorizer } from './temporary-key-authorization.service.js';

/** The depository over request/reply: the only way a cloud key password reaches this service. */
@Controller()
export class DepositoryRpcController {
  constructor(@Inject(TemporaryKeyAuthorizer) private readonly authorizer: TemporaryKeyAuthorizer, @Inject(Depository) private readonly depository: Depository) {}

  @MessagePattern<string>(AuthorizeTemporaryKeyV1.subject)
  authorize(@Payload() req: RpcRequest<typeof AuthorizeTemporaryKeyV1>): Promise<RpcResponse<typeof AuthorizeTemporaryKeyV1>> {
    return this.authorizer.authorize(req);
  }

  @MessagePattern<string>(UnblockKeyAccessV1.subject)
  async unblock(@Payload() req: RpcRequest<typeof UnblockKeyAccessV1>): Promise<RpcResponse<typeof UnblockKeyAccessV1>> {
    const { unblocked } = await this.depository.unblock(req.keyId, req.operator);
    return { keyId: req.keyId, unblocked };
  }
}
