import { Controller, Inject } from '@nestjs/common';
import { EventPattern, Payload } from '@nestjs/microservices';
import {
  CertificateRevokedV1, HardwareKeyRequestFailedV1, HardwareKeyRequestedV1, TemporaryHardwareKeyFormedV1, type Envelope,
} from '@thk/contracts';
import { HardwareKeyEvents } from './hardware-key-events.service.js';

/** The issuance saga's and the CA's facts about keys (JetStream, durable consumers, inbox). */
@Controller()
export class KeyEventsMessageController {
  constructor(@Inject(HardwareKeyEvents) private readonly events: HardwareKeyEvents) {}

  @EventPattern<string>(HardwareKeyRequestedV1.subjectPattern)
  async requested(@Payload() envelope: Envelope<HardwareKeyRequestedV1>): Promise<void> {
    await this.events.requested(envelope);
  }

  @EventPattern<string>(TemporaryHardwareKeyFormedV1.subjectPattern)
  async formed(@Payload() envelope: Envelope<TemporaryHardwareKeyFormedV1>): Promise<void> {
    await this.events.formed(envelope);
  }

  @EventPattern<string>(HardwareKeyRequestFailedV1.subjectPattern)
  async failed(@Payload() envelope: Envelope<HardwareKeyRequestFailedV1>): Promise<void> {
    await this.events.failed(envelope);
  }

  @EventPattern<string>(CertificateRevokedV1.subjectPattern)
  async certificateRevoked(@Payload() envelope: Envelope<CertificateRevokedV1>): Promise<void> {
    await this.events.certificateRevoked(envelope);
  }
}
