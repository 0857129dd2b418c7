import { randomBytes } from 'node:crypto';
import { Inject, Injectable } from '@nestjs/common';
import { TokenKeyGeneratedV1, TokenKeyGenerationFailedV1, type Envelope, type GenerateTokenKeyV1, type KeyEvidence } from '@thk/contracts';
import type { Logger } from '@thk/core';
import { SECURE_PRIVATE_KEY_ATTRIBUTES, createTokenCsr, type GeneratedKeyPair, type TokenDescription, type TokenSession } from '@thk/pkcs11';
import { AGENT_CONFIG, type TokenAgentConfig } from '../../config/agent.config.js';
import type { AgentJournal, GenerationRecord, JournalEntry } from '../../journal/agent-journal.js';
import type { SealingKey } from '../../sealing/sealing-key.js';
import type { AgentActivity } from '../../status/agent-activity.js';
import { nameBasedId } from '../../state/name-based-id.js';
import type { TokenRegistry } from '../../tokens/token-registry.js';
import type { AgentEvents } from '../agent-events.js';
import { crashPoint } from '../crash-point.js';
import { AGENT_ACTIVITY, AGENT_EVENTS, AGENT_JOURNAL, AGENT_LOGGER, SEALING_KEY, TOKEN_REGISTRY } from '../../agent.tokens.js';
import { TokenFailure, toTokenFailure } from '../token-failure.js';
import { personSubjectName } from './person-subject.js';

/**
 * `GenerateTokenKey`: set or change the token's user PIN, generate the key pair on the token,
 * read back the evidence, build the CSR signed by the token key, publish `TokenKeyGenerated`.
 * Every change to the token is journaled before it is made, and the result once built, so a
 * redelivery republishes instead of generating again and a crash anywhere is recovered: after the
 * result was journaled, at start; before it, when JetStream redelivers the unacknowledged command.
 */
@Injectable()
export class GenerateTokenKeyService {
  constructor(
    @Inject(AGENT_CONFIG) private readonly config: TokenAgentConfig,
    @Inject(TOKEN_REGISTRY) private readonly registry: TokenRegistry,
    @Inject(AGENT_JOURNAL) private readonly journal: AgentJournal,
    @Inject(SEALING_KEY) private readonly sealing: SealingKey,
    @Inject(AGENT_EVENTS) private readonly events: AgentEvents,
    @Inject(AGENT_ACTIVITY) private readonly activity: AgentActivity,
    @Inject(AGENT_LOGGER) private readonly logger: Logger,
  ) {}

  async handle(envelope: Envelope<GenerateTokenKeyV1>): Promise<void> {
    const cmd = envelope.data;
    const log = this.logger.child({ requestId: cmd.requestId, tokenSerial: cmd.tokenSerial, commandId: envelope.id });
    const known = this.journal.get(cmd.requestId);
    if (known?.generation?.result) {
      log.info('key already generated for this request: publishing the same result again');
      await this.events.publish(cmd.requestId, 'generation');
      return;
    }
    if (known?.generation?.failure && known.generation.failure.commandId === envelope.id) {
      await this.events.publish(cmd.requestId, 'generation-failure');
      return;
    }
    await this.activity.run({ kind: 'generate-token-key', requestId: cmd.requestId, tokenSerial: cmd.tokenSerial }, () => this.registry.exclusive(async () => {
      try {
        await this.generate(envelope, known, log);
      } catch (error) {
        const failure = toTokenFailure(error);
        if (!failure) throw error;
        log.warn({ code: failure.failureCode }, `key generation failed: ${failure.message}`);
        const event = this.events.build(TokenKeyGenerationFailedV1, {
          requestId: cmd.requestId, tokenSerial: cmd.tokenSerial, code: failure.failureCode, message: failure.message,
        }, { id: nameBasedId(envelope.id, 'TokenKeyGenerationFailed'), correlationId: envelope.correlationId, causationId: envelope.id, occurredAt: this.now() });
        await this.journal.update(cmd.requestId, cmd.tokenSerial, (e) => {
          e.generation ??= this.record(envelope, undefined);
          e.generation.failure = { ...event, commandId: envelope.id };
        });
      }
    }));
    const after = this.journal.get(cmd.requestId);
    if (after?.generation?.result) await this.events.publish(cmd.requestId, 'generation');
    else if (after?.generation?.failure) await this.events.publish(cmd.requestId, 'generation-failure');
  }

  private async generate(envelope: Envelope<GenerateTokenKeyV1>, known: JournalEntry | undefined, log: Logger): Promise<void> {
    const cmd = envelope.data;
    if (known?.destroy) {
      // Compensated already (the saga gave up, e.g. on a timeout while this command waited): a key made now would be orphaned.
      throw new TokenFailure('token-error', 'the request was already compensated (DestroyTokenKey): no key is generated for it');
    }
    const found = this.registry.find(cmd.tokenSerial);
    if (!found) throw new TokenFailure('token-absent', `no token with serial ${cmd.tokenSerial} is connected to this agent`);
    const { module, token } = found;
    if (!token.algorithms.includes(cmd.algorithm)) {
      throw new TokenFailure('algorithm-unsupported', `the token ${token.serial} cannot generate ${cmd.algorithm} keys (it offers ${token.algorithms.join(', ') || 'none of ours'})`);
    }
    const newPin = await this.sealing.unseal(cmd.sealedNewPin, 'new token password');
    const currentPin = cmd.sealedCurrentPin ? await this.sealing.unseal(cmd.sealedCurrentPin, 'current token password') : null;
    this.checkPolicy(newPin, token);

    // A new attempt keeps what an earlier one achieved (the PIN set, the key id, a key pair made).
    const previous = known?.generation;
    const g: GenerationRecord = previous ? { ...previous, commandId: envelope.id, correlationId: envelope.correlationId } : this.record(envelope, undefined);
    delete g.failure;
    /** Journals the record; called only where a crash must find the step written (before a change to the token, and with the result). */
    const save = async (change: Partial<GenerationRecord>) => {
      Object.assign(g, change);
      await this.journal.update(cmd.requestId, cmd.tokenSerial, (e) => { e.generation = { ...g }; });
    };

    const session = module.openSession(token.slotId);
    try {
      await this.unlock(session, token, g, save, newPin, currentPin, log);
      const pair = await this.keyPair(session, g, save, log);
      await crashPoint(this.config, 'after-keypair-created');
      const evidence = this.evidence(session, pair);
      // The install that comes next addresses the pair by these handles instead of searching the token.
      this.registry.rememberKeyPair(found, pair);
      const csr = await createTokenCsr({ session, keyPair: pair, name: personSubjectName(cmd.subject) });
      const event = this.events.build(TokenKeyGeneratedV1, {
        requestId: cmd.requestId, tokenSerial: token.serial, keyId: g.keyId, algorithm: cmd.algorithm,
        csr: Buffer.from(csr.rawData).toString('base64'), evidence,
      }, { id: nameBasedId(cmd.requestId, 'TokenKeyGenerated', g.keyId), correlationId: envelope.correlationId, causationId: envelope.id, occurredAt: this.now() });
      await save({ key: 'created', result: event });
      log.info({ keyId: g.keyId, algorithm: cmd.algorithm }, 'key pair generated on the token');
      await crashPoint(this.config, 'after-key-generated');
    } finally {
      closeQuietly(session);
    }
  }

  /**
   * Brings the session to "logged in with the new PIN", setting or changing the PIN as needed.
   * `initializing` / `changing` are journaled before the PIN call; `set` is not written on its own:
   * the next write is `generating` (`keyPair`, before `C_GenerateKeyPair`), which records it, and in
   * between the token sees at most a login with the new PIN. A stop or a failure in between leaves
   * `changing`, as a stop during a write of its own would, or `initializing`, which the token's flags
   * resolve.
   */
  private async unlock(session: TokenSession, token: TokenDescription, g: GenerationRecord, save: (c: Partial<GenerationRecord>) => Promise<void>, newPin: string, currentPin: string | null, log: Logger): Promise<void> {
    const opts = { allowFinalTry: this.config.allowFinalTry };
    if (g.pin === 'set') {
      session.login(newPin, opts);
      return;
    }
    if (g.pin === 'changing') {
      throw new TokenFailure('token-error', 'an earlier attempt stopped while changing the token PIN: it is either the current or the new password. Check it with the token tools; the agent does not guess');
    }
    if (g.pin === 'initializing' && token.flags.userPinInitialized) {
      // C_InitPIN went through before the stop: the PIN is the new one.
      g.pin = 'set';
      session.login(newPin, opts);
      return;
    }
    if (!token.flags.userPinInitialized) {
      if (!this.config.soPin) throw new TokenFailure('token-error', 'the token has no user PIN yet and this agent has no SO PIN configured (AGENT_SO_PIN) to set one');
      try {
        session.login(this.config.soPin, { as: 'so', allowFinalTry: false });
      } catch (error) {
        const failure = toTokenFailure(error);
        // The SO PIN is the agent's configuration, not the person's password: say so.
        if (failure?.failureCode === 'wrong-token-password') throw new TokenFailure('token-error', 'the token refused the SO PIN configured for this agent (AGENT_SO_PIN)');
        throw error;
      }
      await save({ pin: 'initializing' });
      session.initUserPin(newPin);
      session.logout();
      g.pin = 'set';
      log.info('set the first user PIN of the token');
      session.login(newPin, opts);
      return;
    }
    if (currentPin === null) throw new TokenFailure('wrong-token-password', 'the token already has a password: the request must carry the current one');
    session.login(currentPin, opts);
    if (currentPin !== newPin) {
      await save({ pin: 'changing' });
      session.setPin(currentPin, newPin);
      g.pin = 'set';
      log.info('changed the user PIN of the token');
    } else {
      // Same PIN: nothing changes on the token; the next write (before key generation) records it.
      g.pin = 'set';
    }
  }

  /**
   * The pair under the request's `CKA_ID`: the one an interrupted attempt made, or a new one.
   * `generating` (with the key id) is journaled before `C_GenerateKeyPair`; a pair found under that
   * id later is this request's, whether or not the call returned before the stop.
   */
  private async keyPair(session: TokenSession, g: GenerationRecord, save: (c: Partial<GenerationRecord>) => Promise<void>, log: Logger): Promise<GeneratedKeyPair> {
    const id = Buffer.from(g.keyId, 'hex');
    if (g.key === 'none') {
      // The journal holds no attempt at generating under this fresh, random id: nothing can be on the
      // token under it, and a search by CKA_ID (which scans every object of the token) is skipped.
      await save({ key: 'generating' });
      return session.generateKeyPair({ algorithm: g.algorithm, id, label: g.label });
    }
    const existing = session.objectsWithId(id).filter((o) => o.label === g.label);
    const privateKey = existing.find((o) => o.class === 'private-key');
    const publicKey = existing.find((o) => o.class === 'public-key');
    if (privateKey && publicKey) {
      // No `generating` write here, and none is needed for the PIN: `key` is past `none` only in a record
      // written with the PIN `set` (by the `generating` write), so `unlock` changed no PIN in this attempt
      // and the journal already says `set`; the result write (or a failure's) comes next.
      log.info({ keyId: g.keyId }, 'found the key pair an interrupted attempt generated: using it instead of generating again');
      return { algorithm: g.algorithm, id, label: g.label, privateKey: privateKey.handle, publicKey: publicKey.handle };
    }
    // Half a pair is never used; it is ours (our id and label) and destroyed; nothing else is touched.
    for (const o of existing) session.destroyObject(o.handle);
    await save({ key: 'generating' });
    return session.generateKeyPair({ algorithm: g.algorithm, id, label: g.label });
  }

  /** Reads back what the token says about the private key; refuses a key that does not meet the template. */
  private evidence(session: TokenSession, pair: GeneratedKeyPair): KeyEvidence {
    const names = Object.keys(SECURE_PRIVATE_KEY_ATTRIBUTES) as Array<keyof typeof SECURE_PRIVATE_KEY_ATTRIBUTES>;
    const attrs = session.getAttributes(pair.privateKey, [...names, 'CKA_LOCAL', 'CKA_NEVER_EXTRACTABLE', 'CKA_ALWAYS_SENSITIVE']);
    const wrong = names.filter((n) => attrs[n] !== SECURE_PRIVATE_KEY_ATTRIBUTES[n]);
    if (wrong.length > 0) {
      session.destroyObject(pair.privateKey);
      session.destroyObject(pair.publicKey);
      throw new TokenFailure('token-error', `the token did not honour the key template (${wrong.join(', ')}); the key was destroyed`);
    }
    return { local: attrs.CKA_LOCAL, neverExtractable: attrs.CKA_NEVER_EXTRACTABLE, alwaysSensitive: attrs.CKA_ALWAYS_SENSITIVE, attestation: null };
  }

  private checkPolicy(pin: string, token: TokenDescription): void {
    const min = Math.max(this.config.pinPolicy.minLength, token.minPinLength || 0);
    const max = Math.min(this.config.pinPolicy.maxLength, token.maxPinLength || Number.MAX_SAFE_INTEGER);
    const length = [...pin].length;
    if (length < min || length > max) throw new TokenFailure('pin-policy', `the new token password must have ${min} to ${max} characters`);
    if (Buffer.byteLength(pin, 'utf8') > (token.maxPinLength || Number.MAX_SAFE_INTEGER)) throw new TokenFailure('pin-policy', `the new token password is longer than the token accepts (${token.maxPinLength} bytes)`);
    // eslint-disable-next-line no-control-regex
    if (/[\u0000-\u001f\u007f]/u.test(pin)) throw new TokenFailure('pin-policy', 'the new token password must not contain control characters');
  }

  private record(envelope: Envelope<GenerateTokenKeyV1>, keyId: string | undefined): GenerationRecord {
    return {
      commandId: envelope.id, correlationId: envelope.correlationId, algorithm: envelope.data.algorithm, label: envelope.data.label,
      keyId: keyId ?? randomBytes(16).toString('hex'), pin: 'unchanged', key: 'none',
    };
  }

  private now(): Date {
    return this.config.now?.() ?? new Date();
  }
}

/** Logs out and closes; a token that vanished took its session with it, and the first error is the one that matters. */
export function closeQuietly(session: TokenSession): void {
  try {
    session.logout();
  } catch {
    // see above
  }
  session.close();
}
