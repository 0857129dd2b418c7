import { Controller, Inject } from '@nestjs/common';
import { MessagePattern, Payload } from '@nestjs/microservices';
import {
  FindHardwareKeyRequestByIdempotencyKeyV1, GetHardwareKeyRequestV1, RequestTemporaryHardwareKeyV1, RequestTemporaryHardwareKeyV2, type RpcRequest, type RpcResponse,
} from '@thk/contracts';
import { RequestHardwareKeyService } from './request-hardware-key.service.js';

/** Request/reply from the API gateway (core NATS: the password never touches a stream). */
@Controller()
export class HardwareKeyRpcController {
  constructor(@Inject(RequestHardwareKeyService) private readonly requests: RequestHardwareKeyService) {}

  /** Kept for gateways that predate v2: the same call, its answer without `replayed`. */
  @MessagePattern<string>(RequestTemporaryHardwareKeyV1.subject)
  async request(@Payload() req: RpcRequest<typeof RequestTemporaryHardwareKeyV1>): Promise<RpcResponse<typeof RequestTemporaryHardwareKeyV1>> {
    const { replayed: _replayed, ...reply } = await this.requests.request(req);
    return reply;
  }

  @MessagePattern<string>(RequestTemporaryHardwareKeyV2.subject)
  requestV2(@Payload() req: RpcRequest<typeof RequestTemporaryHardwareKeyV2>): Promise<RpcResponse<typeof RequestTemporaryHardwareKeyV2>> {
    return this.requests.request(req);
  }

  @MessagePattern<string>(GetHardwareKeyRequestV1.subject)
  get(@Payload() req: RpcRequest<typeof GetHardwareKeyRequestV1>): Promise<RpcResponse<typeof GetHardwareKeyRequestV1>> {
    return this.requests.get(req);
  }

  /** A key already seen, answered from the store before the gateway's own checks (the body is compared in memory only). */
  @MessagePattern<string>(FindHardwareKeyRequestByIdempotencyKeyV1.subject)
  findByIdempotencyKey(@Payload() req: RpcRequest<typeof FindHardwareKeyRequestByIdempotencyKeyV1>): Promise<RpcResponse<typeof FindHardwareKeyRequestByIdempotencyKeyV1>> {
    return this.requests.findByIdempotencyKey(req);
  }
}
