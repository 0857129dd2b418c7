import { Controller, Inject } from '@nestjs/common';
import { MessagePattern, Payload } from '@nestjs/microservices';
import { BlockKeyV1, GetKeyCertificateV1, GetKeyV1, ListKeysV1, type RpcRequest, type RpcResponse } from '@thk/contracts';
import { KeyLifecycle } from './key-lifecycle.service.js';
import { KeyQueries } from './key-queries.service.js';

/** The key list over request/reply, for the API gateway (and issuance's eligibility checks). */
@Controller()
export class KeysRpcController {
  constructor(@Inject(KeyQueries) private readonly queries: KeyQueries, @Inject(KeyLifecycle) private readonly lifecycle: KeyLifecycle) {}

  @MessagePattern<string>(ListKeysV1.subject)
  list(@Payload() req: RpcRequest<typeof ListKeysV1>): Promise<RpcResponse<typeof ListKeysV1>> {
    return this.queries.list(req.userId, req.limit, req.cursor);
  }

  @MessagePattern<string>(GetKeyV1.subject)
  get(@Payload() req: RpcRequest<typeof GetKeyV1>): Promise<RpcResponse<typeof GetKeyV1>> {
    return this.queries.get(req.userId, req.keyId);
  }

  @MessagePattern<string>(GetKeyCertificateV1.subject)
  certificate(@Payload() req: RpcRequest<typeof GetKeyCertificateV1>): Promise<RpcResponse<typeof GetKeyCertificateV1>> {
    return this.queries.certificate(req.userId, req.keyId);
  }

  @MessagePattern<string>(BlockKeyV1.subject)
  block(@Payload() req: RpcRequest<typeof BlockKeyV1>): Promise<RpcResponse<typeof BlockKeyV1>> {
    return this.lifecycle.block(req.keyId, req.operator, req.reason);
  }
}
