import { Controller, Inject } from '@nestjs/common';
import { MessagePattern, Payload } from '@nestjs/microservices';
import { CreateDevUserV1, FindDevUserV1, type RpcRequest, type RpcResponse } from '@thk/contracts';
import { DevUsers } from './dev-users.service.js';

/** Answers in every mode, so that outside development mode callers get `not-available` rather than a timeout. */
@Controller()
export class DevUsersRpcController {
  constructor(@Inject(DevUsers) private readonly devUsers: DevUsers) {}

  @MessagePattern<string>(CreateDevUserV1.subject)
  create(@Payload() req: RpcRequest<typeof CreateDevUserV1>): Promise<RpcResponse<typeof CreateDevUserV1>> {
    return this.devUsers.create(req);
  }

  @MessagePattern<string>(FindDevUserV1.subject)
  find(@Payload() req: RpcRequest<typeof FindDevUserV1>): Promise<RpcResponse<typeof FindDevUserV1>> {
    return this.devUsers.find(req.rnokpp);
  }
}
