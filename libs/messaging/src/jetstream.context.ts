import { BaseRpcContext } from '@nestjs/microservices';
import type { Envelope } from '@thk/contracts';

export interface JetStreamMessageInfo {
  subject: string;
  stream: string;
  durable: string;
  streamSequence: number;
  deliveryCount: number;
  /** The agent id of an `agent.<id>.…` subject: who published it, as NATS permissions enforce. */
  agentId: string | undefined;
  envelope: Envelope;
}

/** What a handler can learn about the message it is processing (`@Ctx() ctx: JetStreamContext`). */
export class JetStreamContext extends BaseRpcContext<[JetStreamMessageInfo]> {
  get info(): JetStreamMessageInfo { return this.args[0]; }
  getSubject(): string { return this.args[0].subject; }
  getEnvelope(): Envelope { return this.args[0].envelope; }
  getDeliveryCount(): number { return this.args[0].deliveryCount; }
  getAgentId(): string | undefined { return this.args[0].agentId; }
}

/** The context of a request/reply call. */
export class NatsRpcContext extends BaseRpcContext<[{ subject: string }]> {
  getSubject(): string { return this.args[0].subject; }
}
