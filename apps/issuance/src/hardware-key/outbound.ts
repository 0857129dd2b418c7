import {
  DestroyTokenKeyV1, GenerateTokenKeyV1, HardwareKeyRequestedV1, HardwareKeyRequestFailedV1, HardwareKeyRequestProgressedV1,
  InstallCertificateV1, IssueCertificateV1, RevokeCertificateV1, TemporaryHardwareKeyFormedV1,
} from '@thk/contracts';
import { createEnvelope, type EnvelopeMeta, type OutgoingMessage } from '@thk/messaging';
import { tagOf, type Outbound } from './hardware-key.saga.js';

export const SOURCE = 'issuance';

/** Turns a saga's outbound message into a validated envelope on its contract's subject (an outbox row). */
export function toOutgoing(message: Outbound, meta: Omit<EnvelopeMeta, 'source'>): OutgoingMessage {
  const m: EnvelopeMeta = { ...meta, source: SOURCE };
  switch (message.message) {
    case 'HardwareKeyRequested':
      return { subject: HardwareKeyRequestedV1.subject(), envelope: createEnvelope(HardwareKeyRequestedV1, message.data, m) };
    case 'HardwareKeyRequestProgressed':
      return { subject: HardwareKeyRequestProgressedV1.subject(), envelope: createEnvelope(HardwareKeyRequestProgressedV1, message.data, m) };
    case 'TemporaryHardwareKeyFormed':
      return { subject: TemporaryHardwareKeyFormedV1.subject(), envelope: createEnvelope(TemporaryHardwareKeyFormedV1, message.data, m) };
    case 'HardwareKeyRequestFailed':
      return { subject: HardwareKeyRequestFailedV1.subject(), envelope: createEnvelope(HardwareKeyRequestFailedV1, message.data, m) };
    case 'GenerateTokenKey':
      return { subject: GenerateTokenKeyV1.subject({ agentId: message.agentId }), envelope: createEnvelope(GenerateTokenKeyV1, message.data, m) };
    case 'InstallCertificate':
      return { subject: InstallCertificateV1.subject({ agentId: message.agentId }), envelope: createEnvelope(InstallCertificateV1, message.data, m) };
    case 'DestroyTokenKey':
      return { subject: DestroyTokenKeyV1.subject({ agentId: message.agentId }), envelope: createEnvelope(DestroyTokenKeyV1, message.data, m) };
    case 'IssueCertificate':
      return { subject: IssueCertificateV1.subject(), envelope: createEnvelope(IssueCertificateV1, message.data, m) };
    case 'RevokeCertificate':
      return { subject: RevokeCertificateV1.subject(), envelope: createEnvelope(RevokeCertificateV1, message.data, m) };
    default: {
      const never: never = message;
      throw new Error(`unknown outbound message ${tagOf(never, 'type')}`);
    }
  }
}
