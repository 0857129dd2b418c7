import { Inject, Injectable } from '@nestjs/common';
import { TokenKeyDestroyedV1, type DestroyTokenKeyV1, type Envelope, type PrivateKeyRemainingCode } from '@thk/contracts';
import { AppError, type Logger } from '@thk/core';
import type { TokenSession } from '@thk/pkcs11';
import { AGENT_ACTIVITY, AGENT_EVENTS, AGENT_JOURNAL, AGENT_LOGGER, SEALING_KEY, TOKEN_REGISTRY } from '../../agent.tokens.js';
import { AGENT_CONFIG, type TokenAgentConfig } from '../../config/agent.config.js';
import type { AgentJournal, JournalEntry, PinStep } from '../../journal/agent-journal.js';
import type { SealingKey } from '../../sealing/sealing-key.js';
import { nameBasedId } from '../../state/name-based-id.js';
import type { AgentActivity } from '../../status/agent-activity.js';
import type { TokenRegistry } from '../../tokens/token-registry.js';
import type { AgentEvents } from '../agent-events.js';
import { closeQuietly } from '../generate-token-key/generate-token-key.service.js';
import { toTokenFailure, type TokenFailure } from '../token-failure.js';

/** What one destroy did: the objects destroyed now, and why the private key may still be on the token. */
interface DestroyOutcome {
  destroyed: number;
  /** The private key is gone: destroyed now, or found absent after a login, or by an earlier command. */
  privateKeyGone: boolean;
  remaining?: { code: PrivateKeyRemainingCode; message: string };
}

/**
 * `DestroyTokenKey` (a compensation): destroys the objects this agent created for the request, and
 * only those: the journal knows the request's `CKA_ID` and label; an object that does not carry
 * both is never touched. The private key is a private object, visible only after a login with the
 * token PIN the command carries sealed. A login is tried only when it can be the right one: the
 * journal says a key pair exists or may exist (`generating`, `created`) and that the token's PIN was
 * set to the request's new PIN (the one the command carries). Every other login would be a guess,
 * and a wrong one costs a PIN try on a token that may lock or wipe itself. Without a login only
 * public objects are destroyed, and `TokenKeyDestroyed.privateKeyRemaining` says the private key
 * is (or may be) still there, and why. A token that is not connected is waited for (the command is
 * retried with back-off) unless the journal says nothing was ever created on it.
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
      const outcome: DestroyOutcome = known?.generation && known.tokenSerial === cmd.tokenSerial
        ? await this.destroy(known, cmd, log)
        // Nothing of this request on that token (or nothing made at all); the journal's record of the key is left as it is.
        : { destroyed: 0, privateKeyGone: false };
      if (!known?.generation) log.info('this agent created nothing for the request: nothing to destroy');
      const event = this.events.build(TokenKeyDestroyedV1, {
        requestId: cmd.requestId, tokenSerial: cmd.tokenSerial, destroyedObjects: outcome.destroyed,
        ...(outcome.remaining ? { privateKeyRemaining: outcome.remaining } : {}),
      }, {
        id: nameBasedId(envelope.id, 'TokenKeyDestroyed'), correlationId: envelope.correlationId, causationId: envelope.id, occurredAt: this.config.now?.() ?? new Date(),
      });
      await this.journal.update(cmd.requestId, cmd.tokenSerial, (e) => {
        e.destroy = {
          commandId: envelope.id, destroyedObjects: outcome.destroyed + (e.destroy?.destroyedObjects ?? 0),
          privateKeyDestroyed: outcome.privateKeyGone || (e.destroy?.privateKeyDestroyed ?? false), result: event,
        };
      });
    }));
    await this.events.publish(cmd.requestId, 'destroy');
  }

  private async destroy(entry: JournalEntry, cmd: DestroyTokenKeyV1, log: Logger): Promise<DestroyOutcome> {
    const g = entry.generation!;
    if (g.key === 'none') {
      // Nothing is created before `generating` is journaled: there is nothing on the token to destroy, and no reason to log in.
      log.info({ keyId: g.keyId, pin: g.pin }, 'no key pair was made for the request: nothing to destroy, no login');
      return { destroyed: 0, privateKeyGone: true };
    }
    const found = this.registry.find(cmd.tokenSerial);
    if (!found) throw new AppError('token-absent', `the token ${cmd.tokenSerial} is not connected; the key will be destroyed when it is`, { retryable: true });
    const session = found.module.openSession(found.token.slotId);
    try {
      const alreadyGone = entry.destroy?.privateKeyDestroyed === true;
      const refusal = alreadyGone ? undefined : await this.login(session, g.pin, cmd.sealedPin, log);
      const loggedIn = !alreadyGone && refusal === undefined;
      const ours = session.objectsWithId(Buffer.from(g.keyId, 'hex')).filter((o) => o.label === g.label);
      for (const o of ours) session.destroyObject(o.handle);
      log.info({ keyId: g.keyId, destroyed: ours.map((o) => o.class), loggedIn }, 'destroyed what this agent created for the request');
      if (alreadyGone || loggedIn) return { destroyed: ours.length, privateKeyGone: true };
      log.warn({ keyId: g.keyId, code: refusal!.code }, 'without a login the private key (a private object) could not be seen or destroyed: it may still be on the token');
      return { destroyed: ours.length, privateKeyGone: false, remaining: refusal };
    } finally {
      closeQuietly(session);
    }
  }

  /**
   * Logs in with the sealed PIN when the journal says it is the token's PIN; answers why not
   * otherwise (then the session stays public). Never sends a PIN the journal cannot vouch for.
   */
  private async login(session: TokenSession, pinStep: PinStep, sealedPin: string | undefined, log: Logger): Promise<DestroyOutcome['remaining']> {
    if (!sealedPin) return { code: 'no-token-password', message: 'the command carried no token password, so the private key could not be seen or destroyed' };
    if (pinStep !== 'set') {
      return { code: 'token-password-unknown', message: 'the agent cannot tell whether the token password is the one the command carries (an earlier attempt stopped before the password was set), so it did not risk a login' };
    }
    try {
      const pin = await this.sealing.unseal(sealedPin, 'token password');
      session.login(pin, { allowFinalTry: this.config.allowFinalTry });
      return undefined;
    } catch (error) {
      const failure = toTokenFailure(error);
      // A token that went away is waited for (retried), not reported as a key left behind.
      if (!failure || failure.failureCode === 'token-absent') throw error;
      log.warn({ code: failure.failureCode }, `cannot log in to destroy the private key: ${failure.message}`);
      return { code: remainingCode(failure), message: `the agent could not log in to the token: ${failure.message}` };
    }
  }
}

function remainingCode(failure: TokenFailure): PrivateKeyRemainingCode {
  switch (failure.failureCode) {
    case 'token-pin-locked':
    case 'wrong-token-password':
    case 'sealed-password-invalid':
      return failure.failureCode;
    default:
      return 'token-error';
  }
}
