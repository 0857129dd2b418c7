import { Controller, Inject } from '@nestjs/common';
import { Ctx, EventPattern, Payload } from '@nestjs/microservices';
import { GenerateTokenKeyV1, type Envelope } from '@thk/contracts';
import type { JetStreamContext } from '@thk/messaging';
import { AGENT_CONFIG, type TokenAgentConfig } from '../../config/agent.config.js';
import { assertOwnSubject } from '../agent-subject.guard.js';
import { GenerateTokenKeyService } from './generate-token-key.service.js';

@Controller()
export class GenerateTokenKeyMessageController {
  constructor(@Inject(AGENT_CONFIG) private readonly config: TokenAgentConfig, private readonly service: GenerateTokenKeyService) {}

  @EventPattern<string>(GenerateTokenKeyV1.subjectPattern)
  async generateTokenKey(@Payload() envelope: Envelope<GenerateTokenKeyV1>, @Ctx() ctx: JetStreamContext): Promise<void> {
    assertOwnSubject(ctx, this.config.agentId);
    await this.service.handle(envelope);
  }
}
