import { Controller, Inject } from '@nestjs/common';
import { Ctx, EventPattern, Payload } from '@nestjs/microservices';
import { DestroyTokenKeyV1, type Envelope } from '@thk/contracts';
import type { JetStreamContext } from '@thk/messaging';
import { AGENT_CONFIG, type TokenAgentConfig } from '../../config/agent.config.js';
import { assertOwnSubject } from '../agent-subject.guard.js';
import { DestroyTokenKeyService } from './destroy-token-key.service.js';

@Controller()
export class DestroyTokenKeyMessageController {
  constructor(@Inject(AGENT_CONFIG) private readonly config: TokenAgentConfig, private readonly service: DestroyTokenKeyService) {}

  @EventPattern<string>(DestroyTokenKeyV1.subjectPattern)
  async destroyTokenKey(@Payload() envelope: Envelope<DestroyTokenKeyV1>, @Ctx() ctx: JetStreamContext): Promise<void> {
    assertOwnSubject(ctx, this.config.agentId);
    await this.service.handle(envelope);
  }
}
