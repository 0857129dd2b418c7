import { createHash } from 'node:crypto';
import {
  CertificateIssuedV1, CertificateRejectedV1, type CertificateRejectionCode, type Envelope, type IssueCertificateV1,
} from '@thk/contracts';
import { AppError, type Logger } from '@thk/core';
import { createEnvelope, type EnvelopeMeta } from '@thk/messaging';
import { UnitOfWork } from '@thk/persistence';
import {
  AuthorizationVerifier, nameToString, parseCsr, PkiError, spkiFingerprint, verifyCsrSignature, type ParsedCsr, type VerifiedAuthorization,
} from '@thk/pki';
import type { CertificateAuthority, CertificateRequest } from '../authority/certificate-authority.js';
import type { CertificateRegistry, IssueDecisionRow } from '../registry/certificate-registry.js';
import { summaryOf } from '../registry/certificate-registry.js';
import { CA_COMMANDS_DURABLE } from '../revocation/revoke-certificate.service.js';
import { checkWindow } from './window-check.js';

export type IssueOutcome = { kind: 'issued'; serialNumber: string } | { kind: 'rejected'; code: CertificateRejectionCode } | { kind: 'duplicate' };

export interface IssueSettings {
  clockToleranceSeconds: number;
  maxBackdateSeconds: number;
}

class Rejection extends Error {
  constructor(readonly code: CertificateRejectionCode, message: string) { super(message); }
}

const reject = (code: CertificateRejectionCode, message: string): never => { throw new Rejection(code, message); };

/** A stable digest of what a request asks for: the same request again answers the same way. */
export function requestFingerprint(cmd: IssueCertificateV1): string {
  const e = cmd.evidence;
  return createHash('sha256').update([
    cmd.requestId, cmd.profile, cmd.csr, cmd.authorization, cmd.tokenSerial, cmd.algorithm, cmd.notBefore, cmd.notAfter,
    e.local, e.neverExtractable, e.alwaysSensitive, e.attestation ?? '',
  ].join('\n')).digest('hex');
}

/**
 * `IssueCertificate`: every check of the issue, then one certificate per request id.
 *
 * 1. A request id already decided answers the same decision when the request is the same; a
 *    different request under an id that got a certificate is `request-conflict`, under an id that
 *    was refused `authorization-replayed` (its `jti` was spent).
 * 2. Proof of possession (CSR signature), the key algorithm, the authorization (ES256 by the key
 *    of its x5c base certificate, issued by this CA, valid, not expired, not revoked, `jti` =
 *    request id, same token), the window against every cap, and a public key never certified.
 * 3. The decision, the certificate and the answering event are written in one transaction with
 *    the inbox mark: a redelivered command changes nothing.
 */
export class IssueCertificateService {
  private readonly subjectStrings = new Map<string, string>();

  constructor(
    private readonly uow: UnitOfWork,
    private readonly registry: CertificateRegistry,
    private readonly ca: CertificateAuthority,
    private readonly verifier: AuthorizationVerifier,
    private readonly settings: IssueSettings,
    private readonly clock: () => Date,
    private readonly log: Logger,
  ) {}

  async handle(envelope: Envelope<IssueCertificateV1>): Promise<IssueOutcome> {
    const cmd = envelope.data;
    const fingerprint = requestFingerprint(cmd);
    const meta: EnvelopeMeta = { source: 'ca-gateway', correlationId: envelope.correlationId, causationId: envelope.id };
    const inbox = { consumer: CA_COMMANDS_DURABLE, messageId: envelope.id };

    const previous = await this.registry.findDecision(cmd.requestId);
    if (previous) return this.answerAgain(previous, fingerprint, cmd, meta, inbox);

    const now = this.clock();
    let issued: { request: CertificateRequest; authorization: VerifiedAuthorization; spkiSha256: string };
    try {
      issued = await this.check(cmd, now);
    } catch (error) {
      if (!(error instanceof Rejection)) throw error;
      return this.recordRejection(cmd, fingerprint, error.code, error.message, now, meta, inbox);
    }
    const certificate = await this.ca.issue(issued.request);
    const { claims, baseCertificate } = issued.authorization;
    const row = {
      serialNumber: certificate.serialNumber,
      profile: 'temporary-hardware-key' as const,
      requestId: cmd.requestId,
      keyId: claims.baseKeyId,
      userId: claims.sub,
      baseSerialNumber: baseCertificate.serialNumber,
      tokenSerial: cmd.tokenSerial,
      subject: this.subjectString(baseCertificate.subject),
      issuer: this.ca.issuer.subjectString,
      notBefore: certificate.notBefore,
      notAfter: certificate.notAfter,
      spkiSha256: issued.spkiSha256,
      qcSscd: issued.request.qcSscd,
      der: certificate.der,
      issuedAt: now,
    };
    const result = await this.inTransaction(() => this.uow.run(async (tx) => {
      await this.registry.insertIssued(tx.manager, row, fingerprint);
      tx.emit({
        subject: CertificateIssuedV1.subject(),
        envelope: createEnvelope(CertificateIssuedV1, { requestId: cmd.requestId, certificate: summaryOf({ ...row, der: Buffer.from(row.der), revokedAt: null, revocationReason: null }) }, meta),
      });
    }, { inbox }));
    if (!result.applied) return { kind: 'duplicate' };
    this.log.info({ requestId: cmd.requestId, serialNumber: row.serialNumber, notAfter: row.notAfter.toISOString(), qcSscd: row.qcSscd }, 'certificate issued');
    return { kind: 'issued', serialNumber: row.serialNumber };
  }

  /** Every check of the issue; throws a Rejection for the first that fails. */
  private async check(cmd: IssueCertificateV1, now: Date): Promise<{ request: CertificateRequest; authorization: VerifiedAuthorization; spkiSha256: string }> {
    const csr = this.readCsr(cmd.csr);
    if (csr.keyAlgorithm !== cmd.algorithm) reject('profile-violation', `the CSR holds an ${csr.keyAlgorithm} key, the request says ${cmd.algorithm}`);

    let authorization: VerifiedAuthorization;
    try {
      authorization = await this.verifier.verify(cmd.authorization, now);
    } catch (error) {
      if (error instanceof AppError && isRejectionCode(error.code)) return reject(error.code, error.message);
      throw error;
    }
    const { claims, baseCertificate } = authorization;
    if (claims.jti !== cmd.requestId) reject('authorization-invalid', 'the authorization was given for another request');
    if (claims.tokenSerial !== cmd.tokenSerial) reject('token-mismatch', 'the authorization was given for another token');

    const windowProblem = checkWindow({
      notBefore: new Date(cmd.notBefore),
      notAfter: new Date(cmd.notAfter),
      option: claims.validity,
      notAfterCap: new Date(claims.notAfterCap),
      baseNotBefore: baseCertificate.notBefore,
      baseNotAfter: baseCertificate.notAfter,
      caNotAfter: this.ca.issuer.notAfter,
      authorizedAt: new Date(claims.iat * 1000),
      now,
      maxBackdateMs: this.settings.maxBackdateSeconds * 1000,
      clockToleranceMs: this.settings.clockToleranceSeconds * 1000,
    });

    const spkiSha256 = spkiFingerprint(csr.spki);
    const { baseRevoked, keyCertified } = await this.registry.issueChecks(baseCertificate.serialNumber, spkiSha256);
    if (baseRevoked) reject('base-certificate-revoked', 'the base certificate was revoked');
    if (windowProblem) reject('window-exceeds-cap', windowProblem);
    if (keyCertified || spkiFingerprint(baseCertificate.spki) === spkiSha256) reject('public-key-reused', 'this public key already has a certificate');

    const e = cmd.evidence;
    return {
      authorization,
      spkiSha256,
      request: {
        profile: 'temporary-hardware-key',
        subject: baseCertificate.subject,
        spki: csr.spki,
        publicKeyBits: csr.publicKeyBits,
        notBefore: new Date(cmd.notBefore),
        notAfter: new Date(cmd.notAfter),
        qcSscd: e.local && e.neverExtractable && e.alwaysSensitive,
      },
    };
  }

  private readCsr(base64: string): ParsedCsr {
    let csr: ParsedCsr;
    try {
      csr = parseCsr(new Uint8Array(Buffer.from(base64, 'base64')));
    } catch (error) {
      if (error instanceof PkiError) return reject('csr-invalid', `the CSR cannot be used: ${error.message}`);
      throw error;
    }
    if (!verifyCsrSignature(csr)) reject('csr-invalid', 'the CSR signature does not verify with its public key (no proof of possession)');
    return csr;
  }

  private async recordRejection(cmd: IssueCertificateV1, fingerprint: string, code: CertificateRejectionCode, message: string, now: Date, meta: EnvelopeMeta, inbox: { consumer: string; messageId: string }): Promise<IssueOutcome> {
    const result = await this.inTransaction(() => this.uow.run(async (tx) => {
      await this.registry.insertRejection(tx.manager, cmd.requestId, fingerprint, code, message, now);
      tx.emit({ subject: CertificateRejectedV1.subject(), envelope: createEnvelope(CertificateRejectedV1, { requestId: cmd.requestId, code, message }, meta) });
    }, { inbox }));
    if (!result.applied) return { kind: 'duplicate' };
    this.log.warn({ requestId: cmd.requestId, code }, `certificate refused: ${message}`);
    return { kind: 'rejected', code };
  }

  /** A request id decided before: the same answer for the same request, a refusal for anything else. */
  private async answerAgain(previous: IssueDecisionRow, fingerprint: string, cmd: IssueCertificateV1, meta: EnvelopeMeta, inbox: { consumer: string; messageId: string }): Promise<IssueOutcome> {
    let outcome: IssueOutcome;
    const result = await this.uow.run(async (tx) => {
      if (previous.fingerprint !== fingerprint) {
        const code: CertificateRejectionCode = previous.outcome === 'issued' ? 'request-conflict' : 'authorization-replayed';
        const message = previous.outcome === 'issued'
          ? 'this request id already has a certificate for another request'
          : 'this request id was refused before; its authorization cannot be used again';
        tx.emit({ subject: CertificateRejectedV1.subject(), envelope: createEnvelope(CertificateRejectedV1, { requestId: cmd.requestId, code, message }, meta) });
        outcome = { kind: 'rejected', code };
      } else if (previous.outcome === 'issued') {
        const cert = await this.registry.findCertificate(previous.serialNumber!, tx.manager);
        tx.emit({ subject: CertificateIssuedV1.subject(), envelope: createEnvelope(CertificateIssuedV1, { requestId: cmd.requestId, certificate: summaryOf(cert!) }, meta) });
        outcome = { kind: 'issued', serialNumber: previous.serialNumber! };
      } else {
        tx.emit({ subject: CertificateRejectedV1.subject(), envelope: createEnvelope(CertificateRejectedV1, { requestId: cmd.requestId, code: previous.rejectionCode!, message: previous.rejectionMessage ?? 'refused' }, meta) });
        outcome = { kind: 'rejected', code: previous.rejectionCode! };
      }
    }, { inbox });
    if (!result.applied) return { kind: 'duplicate' };
    this.log.info({ requestId: cmd.requestId, answer: outcome!.kind }, 'request id decided before: answered again without a new decision');
    return outcome!;
  }

  /** A concurrent twin (same request id or same key, other message) makes a unique index fail: retry, then the registry answers. */
  private async inTransaction<T>(work: () => Promise<T>): Promise<T> {
    try {
      return await work();
    } catch (error) {
      if ((error as { code?: string }).code === '23505' || (error as { driverError?: { code?: string } }).driverError?.code === '23505') {
        throw new AppError('ca.concurrent-request', 'a concurrent request wrote first; retrying', { retryable: true });
      }
      throw error;
    }
  }

  private subjectString(subject: Uint8Array): string {
    const key = Buffer.from(subject).toString('base64');
    let s = this.subjectStrings.get(key);
    if (s === undefined) {
      s = nameToString(subject);
      if (this.subjectStrings.size >= 10_000) this.subjectStrings.clear();
      this.subjectStrings.set(key, s);
    }
    return s;
  }
}

const REJECTION_CODES = new Set<string>(['authorization-invalid', 'authorization-expired', 'base-certificate-untrusted', 'base-certificate-expired']);
function isRejectionCode(code: string): code is CertificateRejectionCode {
  return REJECTION_CODES.has(code);
}
