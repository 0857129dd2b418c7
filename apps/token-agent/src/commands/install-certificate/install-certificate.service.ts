import 'reflect-metadata';
import { createHash, type KeyObject } from 'node:crypto';
import { Inject, Injectable } from '@nestjs/common';
import { CertificateInstallFailedV1, CertificateInstalledV1, type Envelope, type InstallCertificateV1 } from '@thk/contracts';
import type { Logger } from '@thk/core';
import type { TokenObject, TokenSession } from '@thk/pkcs11';
import { importPublicKey, parseCertificate, type ParsedCertificate } from '@thk/pki';
import { AGENT_ACTIVITY, AGENT_EVENTS, AGENT_JOURNAL, AGENT_LOGGER, TOKEN_REGISTRY } from '../../agent.tokens.js';
import { AGENT_CONFIG, type TokenAgentConfig } from '../../config/agent.config.js';
import type { AgentJournal } from '../../journal/agent-journal.js';
import { nameBasedId } from '../../state/name-based-id.js';
import type { AgentActivity } from '../../status/agent-activity.js';
import type { FoundToken, TokenRegistry } from '../../tokens/token-registry.js';
import type { AgentEvents } from '../agent-events.js';
import { closeQuietly } from '../generate-token-key/generate-token-key.service.js';
import { TokenFailure, toTokenFailure } from '../token-failure.js';

/** The serial number as lower-case hex without the DER sign byte (`00`) or other leading zeros. */
export function certificateSerialHex(cert: ParsedCertificate): string {
  return cert.serialNumber.toLowerCase().replace(/^0+(?=[0-9a-f])/, '');
}

/**
 * `InstallCertificate`: writes the certificate as a public token object under the key's `CKA_ID`
 * and label, reads it back, checks that it is the one sent and that its public key is the key's,
 * then publishes `CertificateInstalled`. Public objects need no login, so no PIN is involved.
 */
@Injectable()
export class InstallCertificateService {
  constructor(
    @Inject(AGENT_CONFIG) private readonly config: TokenAgentConfig,
    @Inject(TOKEN_REGISTRY) private readonly registry: TokenRegistry,
    @Inject(AGENT_JOURNAL) private readonly journal: AgentJournal,
    @Inject(AGENT_EVENTS) private readonly events: AgentEvents,
    @Inject(AGENT_ACTIVITY) private readonly activity: AgentActivity,
    @Inject(AGENT_LOGGER) private readonly logger: Logger,
  ) {}

  async handle(envelope: Envelope<InstallCertificateV1>): Promise<void> {
    const cmd = envelope.data;
    const log = this.logger.child({ requestId: cmd.requestId, tokenSerial: cmd.tokenSerial, keyId: cmd.keyId, commandId: envelope.id });
    const der = Buffer.from(cmd.certificate, 'base64');
    const sha256 = createHash('sha256').update(der).digest('hex');
    const known = this.journal.get(cmd.requestId);
    if (known?.install?.result && known.install.certificateSha256 === sha256 && known.install.keyId === cmd.keyId) {
      log.info('certificate already installed for this request: publishing the same result again');
      await this.events.publish(cmd.requestId, 'install');
      return;
    }
    if (known?.install?.failure && known.install.failure.commandId === envelope.id) {
      await this.events.publish(cmd.requestId, 'install-failure');
      return;
    }
    await this.activity.run({ kind: 'install-certificate', requestId: cmd.requestId, tokenSerial: cmd.tokenSerial }, () => this.registry.exclusive(async () => {
      const meta = { correlationId: envelope.correlationId, causationId: envelope.id, occurredAt: this.config.now?.() ?? new Date() };
      try {
        const serial = await this.install(envelope, der, sha256, known?.generation?.label, known?.install === undefined, log);
        const event = this.events.build(CertificateInstalledV1, {
          requestId: cmd.requestId, tokenSerial: cmd.tokenSerial, keyId: cmd.keyId, certificateSerialNumber: serial,
        }, { id: nameBasedId(cmd.requestId, 'CertificateInstalled', cmd.keyId, sha256), ...meta });
        await this.journal.update(cmd.requestId, cmd.tokenSerial, (e) => {
          e.install = { ...e.install!, result: event };
          delete e.install.failure;
        });
      } catch (error) {
        const failure = toTokenFailure(error);
        if (!failure) throw error;
        log.warn({ code: failure.failureCode }, `certificate installation failed: ${failure.message}`);
        const event = this.events.build(CertificateInstallFailedV1, {
          requestId: cmd.requestId, tokenSerial: cmd.tokenSerial, keyId: cmd.keyId, code: failure.failureCode, message: failure.message,
        }, { id: nameBasedId(envelope.id, 'CertificateInstallFailed'), ...meta });
        await this.journal.update(cmd.requestId, cmd.tokenSerial, (e) => {
          e.install = { commandId: envelope.id, keyId: cmd.keyId, certificateSha256: sha256, certificateWritten: e.install?.certificateWritten ?? false, failure: { ...event, commandId: envelope.id } };
        });
      }
    }));
    const after = this.journal.get(cmd.requestId);
    if (after?.install?.result) await this.events.publish(cmd.requestId, 'install');
    else if (after?.install?.failure) await this.events.publish(cmd.requestId, 'install-failure');
  }

  private async install(envelope: Envelope<InstallCertificateV1>, der: Buffer, sha256: string, journaledLabel: string | undefined, firstAttempt: boolean, log: Logger): Promise<string> {
    const cmd = envelope.data;
    let cert: ParsedCertificate;
    try {
      // libs/pki's DER reader: what is read here, the serial and the key's bytes, costs ~0.03 ms (OpenSSL's
      // X509Certificate ~0.13, and ~0.03 more for its key; asn1js ~1.5).
      cert = parseCertificate(new Uint8Array(der));
    } catch {
      throw new TokenFailure('certificate-mismatch', 'the certificate is not a DER X.509 certificate');
    }
    const found = this.registry.find(cmd.tokenSerial);
    if (!found) throw new TokenFailure('token-absent', `no token with serial ${cmd.tokenSerial} is connected to this agent`);
    const id = Buffer.from(cmd.keyId, 'hex');
    const session = found.module.openSession(found.token.slotId);
    try {
      const objects = this.keyObjects(session, found, id, cmd.keyId, firstAttempt ? journaledLabel : undefined) ?? session.objectsWithId(id);
      const publicKey = objects.find((o) => o.class === 'public-key' && (!journaledLabel || o.label === journaledLabel));
      if (!publicKey) throw new TokenFailure('certificate-mismatch', `the token holds no key with ID ${cmd.keyId}`);
      if (!sameKey(cert, session.readPublicKey(publicKey.handle))) {
        throw new TokenFailure('certificate-mismatch', `the certificate's public key is not the key ${cmd.keyId} on the token`);
      }
      await this.journal.update(cmd.requestId, cmd.tokenSerial, (e) => {
        e.install = { commandId: envelope.id, keyId: cmd.keyId, certificateSha256: sha256, certificateWritten: e.install?.certificateWritten ?? false };
      });
      const certificates = objects.filter((o) => o.class === 'certificate');
      let handle = certificates.find((c) => session.getAttributes(c.handle, ['CKA_VALUE']).CKA_VALUE.equals(der))?.handle;
      if (!handle) {
        if (certificates.length > 0) throw new TokenFailure('certificate-mismatch', `another certificate is already stored under key ID ${cmd.keyId}`);
        handle = session.createCertificate({ id, label: publicKey.label, der });
        await this.journal.update(cmd.requestId, cmd.tokenSerial, (e) => { e.install!.certificateWritten = true; });
      }
      this.verifyWritten(session, handle, id, der);
      log.info({ serialNumber: certificateSerialHex(cert) }, 'certificate written to the token');
      return certificateSerialHex(cert);
    } finally {
      closeQuietly(session);
    }
  }

  /**
   * The objects under the key's ID without searching the token, when this process generated the pair
   * and its handles are still valid: its public key, as the token describes that handle now, and no
   * certificate (only a first attempt asks: no install of this request wrote one, and nothing else
   * writes under a fresh random ID). Undefined when it cannot tell (another process made the pair, the
   * agent restarted, the handle now names something else): the caller searches.
   */
  private keyObjects(session: TokenSession, found: FoundToken, id: Buffer, keyIdHex: string, label: string | undefined): TokenObject[] | undefined {
    if (label === undefined) return undefined;
    const remembered = this.registry.rememberedKeyPair(found, keyIdHex);
    if (!remembered || remembered.label !== label) return undefined;
    try {
      const object = session.describeObject(remembered.publicKey);
      return object.class === 'public-key' && object.id.equals(id) && object.label === label ? [object] : undefined;
    } catch {
      return undefined;
    }
  }

  /** Reads the object back: the same bytes under the same `CKA_ID`, as a public token certificate. */
  private verifyWritten(session: TokenSession, handle: Buffer, id: Buffer, der: Buffer): void {
    const back = session.getAttributes(handle, ['CKA_CLASS', 'CKA_ID', 'CKA_VALUE', 'CKA_TOKEN']);
    if (!back.CKA_VALUE.equals(der) || !back.CKA_ID.equals(id) || !back.CKA_TOKEN) {
      throw new TokenFailure('certificate-mismatch', 'the certificate read back from the token is not the one written');
    }
  }
}

/**
 * Whether the certificate certifies the token's key: the same SubjectPublicKeyInfo bytes (the CA copies
 * the CSR's, which the agent built from the token's), else the same key however encoded.
 */
function sameKey(cert: ParsedCertificate, token: { spki: Buffer; readonly key: KeyObject }): boolean {
  if (Buffer.from(cert.spki).equals(token.spki)) return true;
  let certKey: KeyObject;
  try {
    certKey = importPublicKey(cert.spki);
  } catch {
    throw new TokenFailure('certificate-mismatch', 'the certificate carries a public key this agent cannot read');
  }
  return certKey.equals(token.key);
}
