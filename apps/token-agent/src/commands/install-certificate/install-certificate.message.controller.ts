import { Controller, Inject } from '@nestjs/common';
import { Ctx, EventPattern, Payload } from '@nestjs/microservices';
import { InstallCertificateV1, type Envelope } from '@thk/contracts';
import type { JetStreamContext } from '@thk/messaging';
import { AGENT_CONFIG, type TokenAgentConfig } from '../../config/agent.config.js';
import { assertOwnSubject } from '../agent-subject.guard.js';
import { InstallCertificateService } from './install-certificate.service.js';

@Controller()
export class InstallCertificateMessageController {
  constructor(@Inject(AGENT_CONFIG) private readonly config: TokenAgentConfig, private readonly service: InstallCertificateService) {}

  @EventPattern<string>(InstallCertificateV1.subjectPattern)
  async installCertificate(@Payload() envelope: Envelope<InstallCertificateV1>, @Ctx() ctx: JetStreamContext): Promise<void> {
    assertOwnSubject(ctx, this.config.agentId);
    await this.service.handle(envelope);
  }
}
