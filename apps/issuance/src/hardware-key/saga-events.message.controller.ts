import { Controller, Inject } from '@nestjs/common';
import { Ctx, EventPattern, Payload } from '@nestjs/microservices';
import {
  CertificateInstalledV1, CertificateInstallFailedV1, CertificateIssuedV1, CertificateRejectedV1, CertificateRevokedV1,
  TokenKeyDestroyedV1, TokenKeyGeneratedV1, TokenKeyGenerationFailedV1, type Envelope,
} from '@thk/contracts';
import { createLogger } from '@thk/core';
import type { JetStreamContext } from '@thk/messaging';
import { HardwareKeyProcessManager, type SagaLocator } from './hardware-key.process-manager.js';
import type { SagaInput } from './hardware-key.saga.js';

/** The token agents' events (`agent.*.evt.>`): durable `issuance-agent-events`. */
export const AGENT_EVENTS_DURABLE = 'issuance-agent-events';
/** The CA gateway's events (`ca.evt.>`): durable `issuance-ca-events`. */
export const CA_EVENTS_DURABLE = 'issuance-ca-events';

const log = createLogger('issuance:events');

/**
 * Feeds the saga. The agent id comes from the subject (`agent.<id>.evt.…`, which NATS permissions
 * let only that agent publish), never from the payload; the saga refuses an event of another agent
 * than its own, and such a message is dead-lettered. Each message is applied once per durable (inbox).
 */
@Controller()
export class SagaEventsController {
  constructor(@Inject(HardwareKeyProcessManager) private readonly sagas: HardwareKeyProcessManager) {}

  private async feed(locator: SagaLocator, input: SagaInput, envelope: Envelope, ctx: JetStreamContext): Promise<void> {
    const result = await this.sagas.handle(locator, input, { inbox: { consumer: ctx.info.durable, messageId: envelope.id }, causationId: envelope.id });
    if (result.outcome === 'unknown-request' && input.type !== 'CertificateRevoked') {
      log.warn({ type: envelope.type, id: envelope.id, locator }, 'event for no known hardware key request; acknowledged and dropped');
    }
  }

  @EventPattern<string>(TokenKeyGeneratedV1.subjectPattern)
  tokenKeyGenerated(@Payload() e: Envelope<TokenKeyGeneratedV1>, @Ctx() ctx: JetStreamContext): Promise<void> {
    return this.feed({ requestId: e.data.requestId }, { type: 'TokenKeyGenerated', agentId: ctx.getAgentId(), data: e.data }, e, ctx);
  }

  @EventPattern<string>(TokenKeyGenerationFailedV1.subjectPattern)
  tokenKeyGenerationFailed(@Payload() e: Envelope<TokenKeyGenerationFailedV1>, @Ctx() ctx: JetStreamContext): Promise<void> {
    return this.feed({ requestId: e.data.requestId }, { type: 'TokenKeyGenerationFailed', agentId: ctx.getAgentId(), data: e.data }, e, ctx);
  }

  @EventPattern<string>(CertificateInstalledV1.subjectPattern)
  certificateInstalled(@Payload() e: Envelope<CertificateInstalledV1>, @Ctx() ctx: JetStreamContext): Promise<void> {
    return this.feed({ requestId: e.data.requestId }, { type: 'CertificateInstalled', agentId: ctx.getAgentId(), data: e.data }, e, ctx);
  }

  @EventPattern<string>(CertificateInstallFailedV1.subjectPattern)
  certificateInstallFailed(@Payload() e: Envelope<CertificateInstallFailedV1>, @Ctx() ctx: JetStreamContext): Promise<void> {
    return this.feed({ requestId: e.data.requestId }, { type: 'CertificateInstallFailed', agentId: ctx.getAgentId(), data: e.data }, e, ctx);
  }

  @EventPattern<string>(TokenKeyDestroyedV1.subjectPattern)
  tokenKeyDestroyed(@Payload() e: Envelope<TokenKeyDestroyedV1>, @Ctx() ctx: JetStreamContext): Promise<void> {
    return this.feed({ requestId: e.data.requestId }, { type: 'TokenKeyDestroyed', agentId: ctx.getAgentId(), data: e.data }, e, ctx);
  }

  @EventPattern<string>(CertificateIssuedV1.subjectPattern)
  certificateIssued(@Payload() e: Envelope<CertificateIssuedV1>, @Ctx() ctx: JetStreamContext): Promise<void> {
    return this.feed({ requestId: e.data.requestId }, { type: 'CertificateIssued', data: e.data }, e, ctx);
  }

  @EventPattern<string>(CertificateRejectedV1.subjectPattern)
  certificateRejected(@Payload() e: Envelope<CertificateRejectedV1>, @Ctx() ctx: JetStreamContext): Promise<void> {
    return this.feed({ requestId: e.data.requestId }, { type: 'CertificateRejected', data: e.data }, e, ctx);
  }

  /** Any revocation in the system; only those of a saga's own certificate matter (compensation confirmed). */
  @EventPattern<string>(CertificateRevokedV1.subjectPattern)
  certificateRevoked(@Payload() e: Envelope<CertificateRevokedV1>, @Ctx() ctx: JetStreamContext): Promise<void> {
    return this.feed({ certificateSerial: e.data.serialNumber }, { type: 'CertificateRevoked', data: e.data }, e, ctx);
  }
}
