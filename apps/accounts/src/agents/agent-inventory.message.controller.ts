import { Controller, Inject } from '@nestjs/common';
import { Ctx, EventPattern, Payload } from '@nestjs/microservices';
import { AgentInventoryReportedV1, type Envelope } from '@thk/contracts';
import type { JetStreamContext } from '@thk/messaging';
import { AgentRegistry } from './agent-registry.service.js';

@Controller()
export class AgentInventoryMessageController {
  constructor(@Inject(AgentRegistry) private readonly registry: AgentRegistry) {}

  @EventPattern<string>(AgentInventoryReportedV1.subjectPattern)
  async inventoryReported(@Payload() envelope: Envelope<AgentInventoryReportedV1>, @Ctx() ctx: JetStreamContext): Promise<void> {
    await this.registry.inventoryReported(envelope, ctx.getAgentId());
  }
}
