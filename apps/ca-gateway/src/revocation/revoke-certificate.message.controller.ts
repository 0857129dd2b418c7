import { Controller, Inject } from '@nestjs/common';
import { EventPattern, Payload } from '@nestjs/microservices';
import { RevokeCertificateV1, type Envelope } from '@thk/contracts';
import { RevokeCertificateService } from './revoke-certificate.service.js';

@Controller()
export class RevokeCertificateMessageController {
  constructor(@Inject(RevokeCertificateService) private readonly service: RevokeCertificateService) {}

  @EventPattern<string>(RevokeCertificateV1.subjectPattern)
  async handle(@Payload() envelope: Envelope<RevokeCertificateV1>): Promise<void> {
    await this.service.handle(envelope);
  }
}
