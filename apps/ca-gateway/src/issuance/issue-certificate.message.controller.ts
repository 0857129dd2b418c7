import { Controller, Inject } from '@nestjs/common';
import { EventPattern, Payload } from '@nestjs/microservices';
import { IssueCertificateV1, type Envelope } from '@thk/contracts';
import { IssueCertificateService } from './issue-certificate.service.js';

@Controller()
export class IssueCertificateMessageController {
  constructor(@Inject(IssueCertificateService) private readonly service: IssueCertificateService) {}

  @EventPattern<string>(IssueCertificateV1.subjectPattern)
  async handle(@Payload() envelope: Envelope<IssueCertificateV1>): Promise<void> {
    await this.service.handle(envelope);
  }
}
