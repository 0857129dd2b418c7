import { Controller, Inject } from '@nestjs/common';
import { MessagePattern, Payload } from '@nestjs/microservices';
import { GetUserTokenV1, ListTokensV1, RegisterAgentV1, type RpcRequest, type RpcResponse } from '@thk/contracts';
import { AgentRegistry } from './agent-registry.service.js';

@Controller()
export class AgentsRpcController {
  constructor(@Inject(AgentRegistry) private readonly registry: AgentRegistry) {}

  @MessagePattern<string>(RegisterAgentV1.subject)
  register(@Payload() req: RpcRequest<typeof RegisterAgentV1>): Promise<RpcResponse<typeof RegisterAgentV1>> {
    return this.registry.register(req.agentId, req.userId);
  }

  @MessagePattern<string>(ListTokensV1.subject)
  async list(@Payload() req: RpcRequest<typeof ListTokensV1>): Promise<RpcResponse<typeof ListTokensV1>> {
    return { items: await this.registry.listTokens(req.userId) };
  }

  @MessagePattern<string>(GetUserTokenV1.subject)
  async get(@Payload() req: RpcRequest<typeof GetUserTokenV1>): Promise<RpcResponse<typeof GetUserTokenV1>> {
    return { token: await this.registry.getUserToken(req.userId, req.tokenId) };
  }
}
