import { Inject, Injectable } from '@nestjs/common';
import { TokenKeyDestroyedV1, type DestroyTokenKeyV1, type Envelope } from '@thk/contracts';
import { AppError, type Logger } from '@thk/core';
import type { TokenSession } from '@thk/pkcs11';
import { AGENT_ACTIVITY, AGENT_EVENTS, AGENT_JOURNAL, AGENT_LOGGER, SEALING_KEY, TOKEN_REGISTRY } from '../../agent.tokens.js';
import { AGENT_CONFIG, type TokenAgentConfig } from '../../config/agent.config.js';
import type { AgentJournal, JournalEntry } from '../../journal/agent-journal.js';
import type { SealingKey } from '../../sealing/sealing-key.js';
import { nameBasedId } from '../../state/name-based-id.js';
import type { AgentActivity } from '../../status/agent-activity.js';
import type { TokenRegistry } from '../../tokens/token-registry.js';
import type { AgentEvents } from '../agent-events.js';
import { closeQuietly } from '../generate-token-key/generate-token-key.service.js';
import { toTokenFailure } from '../token-failure.js';

/**
 * `DestroyTokenKey` (a compensation): destroys the objects this agent created for the request, and
 * only those: the journal knows the request's `CKA_ID` and label; an object that does not carry
 * both is never touched. The private key is a private object, visible only after a login with the
 * token PIN the command carries sealed; without it only public objects can be destroyed.
 * A token that is not connected is waited for (the command is retried with back-off).
 */
@Injectable()
export class DestroyTokenKeyService {
  constructor(
    @Inject(AGENT_CONFIG) private readonly config: TokenAgentConfig,
    @Inject(TOKEN_REGISTRY) private readonly registry: TokenRegistry,
    @Inject(AGENT_JOURNAL) private readonly journal: AgentJournal,
    @Inject(SEALING_KEY) private readonly sealing: SealingKey,
    @Inject(AGENT_EVENTS) private readonly events: AgentEvents,
    @Inject(AGENT_ACTIVITY) private readonly activity: AgentActivity,
    @Inject(AGENT_LOGGER) private readonly logger: Logger,
  ) {}

  async handle(envelope: Envelope<DestroyTokenKeyV1>): Promise<void> {
    const cmd = envelope.data;
    const log = this.logger.child({ requestId: cmd.requestId, tokenSerial: cmd.tokenSerial, commandId: envelope.id });
    const known = this.journal.get(cmd.requestId);
    if (known?.destroy?.result && known.destroy.commandId === envelope.id) {
      await this.events.publish(cmd.requestId, 'destroy');
      return;
    }
    await this.activity.run({ kind: 'destroy-token-key', requestId: cmd.requestId, tokenSerial: cmd.tokenSerial }, () => this.registry.exclusive(async () => {
      const destroyed = known?.generation && known.tokenSerial === cmd.tokenSerial ? await this.destroy(known, cmd, log) : 0;
      if (!known?.generation) log.info('this agent created nothing for the request: nothing to destroy');
      const event = this.events.build(TokenKeyDestroyedV1, { requestId: cmd.requestId, tokenSerial: cmd.tokenSerial, destroyedObjects: destroyed }, {
        id: nameBasedId(envelope.id, 'TokenKeyDestroyed'), correlationId: envelope.correlationId, causationId: envelope.id, occurredAt: this.config.now?.() ?? new Date(),
      });
      await this.journal.update(cmd.requestId, cmd.tokenSerial, (e) => {
        e.destroy = { commandId: envelope.id, destroyedObjects: destroyed + (e.destroy?.destroyedObjects ?? 0), result: event };
      });
    }));
    await this.events.publish(cmd.requestId, 'destroy');
  }

  private async destroy(entry: JournalEntry, cmd: DestroyTokenKeyV1, log: Logger): Promise<number> {
    const g = entry.generation!;
    const found = this.registry.find(cmd.tokenSerial);
    if (!found) throw new AppError('token-absent', `the token ${cmd.tokenSerial} is not connected; the key will be destroyed when it is`, { retryable: true });
    const session = found.module.openSession(found.token.slotId);
    try {
      const loggedIn = cmd.sealedPin ? await this.login(session, cmd.sealedPin, log) : false;
      const ours = session.objectsWithId(Buffer.from(g.keyId, 'hex')).filter((o) => o.label === g.label);
      for (const o of ours) session.destroyObject(o.handle);
      log.info({ keyId: g.keyId, destroyed: ours.map((o) => o.class), loggedIn }, 'destroyed what this agent created for the request');
      if (!loggedIn && g.key !== 'none') log.warn({ keyId: g.keyId }, 'without the token PIN the private key (a private object) could not be seen or destroyed');
      return ours.length;
    } finally {
      closeQuietly(session);
    }
  }

  /** Logs in with the sealed PIN if it opens and the token allows; a refusal leaves a public session. */
  private async login(session: TokenSession, sealedPin: string, log: Logger): Promise<boolean> {
    try {
      const pin = await this.sealing.unseal(sealedPin, 'token password');
      session.login(pin, { allowFinalTry: this.config.allowFinalTry });
      return true;
    } catch (error) {
      const failure = toTokenFailure(error);
      if (!failure) throw error;
      log.warn({ code: failure.failureCode }, `cannot log in to destroy the private key: ${failure.message}`);
      return false;
    }
  }
}
