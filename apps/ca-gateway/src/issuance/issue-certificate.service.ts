import { setImmediate as nextTurn } from 'node:timers/promises';
import { createHash } from 'node:crypto';
import {
  CertificateIssuedV1, CertificateRejectedV1, type CertificateRejectionCode, type Envelope, type IssueCertificateV1,
} from '@thk/contracts';
import { AppError, type Logger } from '@thk/core';
import { createEnvelope, type EnvelopeMeta, type OutgoingMessage } from '@thk/messaging';
import { UnitOfWork } from '@thk/persistence';
import {
  AuthorizationVerifier, nameToString, parseCsr, PkiError, spkiFingerprint, verifyCsrSignature, verifyCsrSignatureAsync, type ParsedCsr, type SignatureCheck, type VerifiedAuthorization,
} from '@thk/pki';
import type { CertificateAuthority } from '../authority/certificate-authority.js';
import type { CertificateRegistry, IssueDecisionRow, IssueLookup, IssueLookupKey, NewCertificate } from '../registry/certificate-registry.js';
import { summaryOf } from '../registry/certificate-registry.js';
import { CA_COMMANDS_DURABLE } from '../revocation/revoke-certificate.service.js';
import { Batcher, type Settled } from './batcher.js';
import { caMetrics } from '../metrics.js';
import { checkWindow } from './window-check.js';

export type IssueOutcome = { kind: 'issued'; serialNumber: string } | { kind: 'rejected'; code: CertificateRejectionCode } | { kind: 'duplicate' };

export interface IssueSettings {
  clockToleranceSeconds: number;
  maxBackdateSeconds: number;
  /** Group commit: commands decided together in one lookup and one transaction (default 128). */
  maxBatch?: number;
}

class Rejection {
  constructor(readonly code: CertificateRejectionCode, readonly message: string) {}
}

/** A stable digest of what a request asks for: the same request again answers the same way. */
export function requestFingerprint(cmd: IssueCertificateV1): string {
  const e = cmd.evidence;
  return createHash('sha256').update([
    cmd.requestId, cmd.profile, cmd.csr, cmd.authorization, cmd.tokenSerial, cmd.algorithm, cmd.notBefore, cmd.notAfter,
    e.local, e.neverExtractable, e.alwaysSensitive, e.attestation ?? '',
  ].join('\n')).digest('hex');
}

/** What the checks that need no database concluded. */
interface Examined {
  cmd: IssueCertificateV1;
  fingerprint: string;
  now: Date;
  /** The first refusal found without the registry, if any. */
  rejection: Rejection | null;
  csr: ParsedCsr | null;
  authorization: VerifiedAuthorization | null;
  spkiSha256: string | null;
  /** A problem of the window, reported only after the base certificate's revocation. */
  windowProblem: string | null;
}

/** What one command writes: a certificate and its decision, a refusal and its decision, or only an answer. */
type Write =
  | { kind: 'issue'; messageId: string; certificate: NewCertificate; fingerprint: string; event: OutgoingMessage; meta: EnvelopeMeta }
  | { kind: 'reject'; messageId: string; requestId: string; fingerprint: string; code: CertificateRejectionCode; message: string; at: Date; event: OutgoingMessage }
  | { kind: 'answer'; messageId: string; outcome: IssueOutcome; event: OutgoingMessage }
  /** The same request again after a certificate: the certificate is read back inside the write. */
  | { kind: 'answer-issued'; messageId: string; requestId: string; serialNumber: string; meta: EnvelopeMeta };

/**
 * `IssueCertificate`: every check of the issue, then one certificate per request id.
 *
 * 1. A request id already decided answers the same decision when the request is the same; a
 *    different request under an id that got a certificate is `request-conflict`, under an id that
 *    was refused `authorization-replayed` (its `jti` was spent).
 * 2. Proof of possession (CSR signature), the key algorithm, the authorization (ES256 by the key
 *    of its x5c base certificate, issued by this CA, valid, not expired, `jti` = request id, same
 *    token), the base certificate in the registry as a cloud-key certificate of the authorization's
 *    `baseKeyId` and `sub` (a temporary key's own certificate cannot authorize), not revoked, the
 *    window against every cap, and a public key never certified.
 * 3. The decision, the certificate and the answering event are written in one transaction with
 *    the inbox mark: a redelivered command changes nothing. Its first statement writes the marks
 *    and takes the base certificates' revocation locks (shared); the certificate insert, a later
 *    statement, records only certificates whose base is not revoked, so a revocation committed
 *    after the lookup refuses the issue instead of racing it, at no extra statement.
 *
 * The registry lookup runs while the signatures are checked: its keys (request id, the CSR's key,
 * the x5c serial) are read before anything is verified. That is only a read; a refusal found by
 * the checks wins over anything it says (but a request id decided before is answered the same,
 * verified or not), and the registry checks compare its base row with the verified x5c
 * certificate, which is the same certificate (the same bytes of the same authorization).
 *
 * Under load, commands in flight share their registry lookup and their transaction (group
 * commit); each still gets its own decision, and a batch that hits a unique index is replayed
 * one command at a time, so a conflict fails only its own command (retried by redelivery).
 * A transaction is BEGIN, marks and locks, certificates with their decisions, refusals (when
 * any), outbox, COMMIT.
 */
export class IssueCertificateService {
  private readonly subjectStrings = new Map<string, string>();
  private readonly lookups: Batcher<IssueLookupKey, IssueLookup>;
  private readonly writes: Batcher<Write, IssueOutcome>;
  /** Commands being handled now (this one included): one alone is checked without thread-pool hops. */
  private inFlight = 0;

  constructor(
    private readonly uow: UnitOfWork,
    private readonly registry: CertificateRegistry,
    private readonly ca: CertificateAuthority,
    private readonly verifier: AuthorizationVerifier,
    private readonly settings: IssueSettings,
    private readonly clock: () => Date,
    private readonly log: Logger,
  ) {
    const maxBatch = settings.maxBatch ?? 128;
    this.lookups = new Batcher(async (keys) => (await registry.lookupMany(keys)).map((value) => ({ ok: true, value })), { maxBatch, maxInFlight: 2 });
    this.writes = new Batcher((items) => this.writeBatch(items), { maxBatch, maxInFlight: 2 });
  }

  async handle(envelope: Envelope<IssueCertificateV1>): Promise<IssueOutcome> {
    this.inFlight++;
    try {
      return await this.issue(envelope);
    } finally {
      this.inFlight--;
    }
  }

  private async issue(envelope: Envelope<IssueCertificateV1>): Promise<IssueOutcome> {
    const meta: EnvelopeMeta = { source: 'ca-gateway', correlationId: envelope.correlationId, causationId: envelope.id };
    const cmd = envelope.data;
    const csr = readCsr(cmd.csr);
    const spkiSha256 = csr instanceof Rejection ? null : spkiFingerprint(csr.spki);
    // The lookup's keys before anything is verified, so that it overlaps the signature checks.
    const key: IssueLookupKey = { requestId: cmd.requestId, spkiSha256, baseSerialNumber: this.verifier.unverifiedBaseCertificate(cmd.authorization)?.serialNumber ?? null };
    const looking = this.lookups.submit(key);
    // A command alone checks both signatures on this thread (~0.1 ms each): a thread-pool job costs a
    // hop, which is most of a lone command's wait. Under load both go to the pool, at once, so that the
    // commands in flight use every core. Checked synchronously, they would run before the lookup's query
    // had gone out (the pool and the driver need a few microtasks to write it): one turn of the event
    // loop first, so that the two overlap instead of following each other.
    const signature: SignatureCheck = this.inFlight <= 1 ? 'inline' : 'thread-pool';
    if (signature === 'inline') await nextTurn();
    const [examined, lookup] = await Promise.all([this.examine(cmd, csr, spkiSha256, signature), looking]);
    const write = lookup.decision
      ? this.answerAgain(lookup.decision, examined, meta, envelope.id)
      : await this.decide(examined, lookup, meta, envelope.id);
    const outcome = await this.writes.submit(write);
    if (outcome.kind === 'duplicate') return outcome;
    if (write.kind === 'issue' && outcome.kind === 'rejected') {
      caMetrics.rejected.inc({ code: outcome.code });
      this.log.warn({ requestId: examined.cmd.requestId, code: outcome.code }, `certificate refused: ${REVOKED_MEANWHILE}`);
    } else if (write.kind === 'issue') {
      caMetrics.issued.inc({ profile: 'temporary-hardware-key' });
      this.log.info({ requestId: examined.cmd.requestId, serialNumber: write.certificate.serialNumber, notAfter: write.certificate.notAfter.toISOString(), qcSscd: write.certificate.qcSscd }, 'certificate issued');
    } else if (write.kind === 'reject') {
      caMetrics.rejected.inc({ code: write.code });
      this.log.warn({ requestId: examined.cmd.requestId, code: write.code }, `certificate refused: ${write.message}`);
    } else {
      this.log.info({ requestId: examined.cmd.requestId, answer: outcome.kind }, 'request id decided before: answered again without a new decision');
    }
    return outcome;
  }

  /** The checks that need no database, in the order refusals are reported. */
  private async examine(cmd: IssueCertificateV1, csr: ParsedCsr | Rejection, spkiSha256: string | null, signature: SignatureCheck): Promise<Examined> {
    const out: Examined = { cmd, fingerprint: requestFingerprint(cmd), now: this.clock(), rejection: null, csr: null, authorization: null, spkiSha256: null, windowProblem: null };
    const refuse = (rejection: Rejection): Examined => { out.rejection = rejection; return out; };
    if (csr instanceof Rejection) return refuse(csr);
    out.csr = csr;
    out.spkiSha256 = spkiSha256;

    // Where the signatures are checked (see `issue`); their refusals come in order either way.
    const [possession, authorization] = signature === 'inline'
      ? [verifyCsrSignature(csr), await this.verifyAuthorization(cmd.authorization, out.now, 'inline')]
      : await Promise.all([verifyCsrSignatureAsync(csr), this.verifyAuthorization(cmd.authorization, out.now, 'thread-pool')]);
    if (!possession) return refuse(new Rejection('csr-invalid', 'the CSR signature does not verify with its public key (no proof of possession)'));
    if (csr.keyAlgorithm !== cmd.algorithm) return refuse(new Rejection('profile-violation', `the CSR holds an ${csr.keyAlgorithm} key, the request says ${cmd.algorithm}`));
    if (authorization instanceof Rejection) return refuse(authorization);
    out.authorization = authorization;
    const { claims, baseCertificate } = authorization;
    if (claims.jti !== cmd.requestId) return refuse(new Rejection('authorization-invalid', 'the authorization was given for another request'));
    if (claims.tokenSerial !== cmd.tokenSerial) return refuse(new Rejection('token-mismatch', 'the authorization was given for another token'));
    out.windowProblem = checkWindow({
      notBefore: new Date(cmd.notBefore),
      notAfter: new Date(cmd.notAfter),
      option: claims.validity,
      notAfterCap: new Date(claims.notAfterCap),
      baseNotBefore: baseCertificate.notBefore,
      baseNotAfter: baseCertificate.notAfter,
      caNotAfter: this.ca.issuer.notAfter,
      authorizedAt: new Date(claims.iat * 1000),
      now: out.now,
      maxBackdateMs: this.settings.maxBackdateSeconds * 1000,
      clockToleranceMs: this.settings.clockToleranceSeconds * 1000,
    });
    return out;
  }

  private async verifyAuthorization(jws: string, now: Date, signature: SignatureCheck): Promise<VerifiedAuthorization | Rejection> {
    try {
      return await this.verifier.verify(jws, now, { signature });
    } catch (error) {
      if (error instanceof AppError && isRejectionCode(error.code)) return new Rejection(error.code, error.message);
      throw error;
    }
  }

  /** A new decision: the remaining (registry) checks, then the certificate. */
  private async decide(x: Examined, lookup: IssueLookup, meta: EnvelopeMeta, messageId: string): Promise<Write> {
    const { cmd } = x;
    const rejection = x.rejection ?? this.registryChecks(x, lookup);
    if (rejection) {
      return {
        kind: 'reject', messageId, requestId: cmd.requestId, fingerprint: x.fingerprint, code: rejection.code, message: rejection.message, at: x.now,
        event: { subject: CertificateRejectedV1.subject(), envelope: createEnvelope(CertificateRejectedV1, { requestId: cmd.requestId, code: rejection.code, message: rejection.message }, meta) },
      };
    }
    const csr = x.csr!;
    const { claims, baseCertificate } = x.authorization!;
    const e = cmd.evidence;
    const qcSscd = e.local && e.neverExtractable && e.alwaysSensitive;
    const issued = await this.ca.issue({
      profile: 'temporary-hardware-key', subject: baseCertificate.subject, spki: csr.spki, publicKeyBits: csr.publicKeyBits,
      notBefore: new Date(cmd.notBefore), notAfter: new Date(cmd.notAfter), qcSscd,
    });
    const certificate: NewCertificate = {
      serialNumber: issued.serialNumber, profile: 'temporary-hardware-key', requestId: cmd.requestId, keyId: claims.baseKeyId, userId: claims.sub,
      baseSerialNumber: baseCertificate.serialNumber, tokenSerial: cmd.tokenSerial, subject: this.subjectString(baseCertificate.subject),
      issuer: this.ca.issuer.subjectString, notBefore: issued.notBefore, notAfter: issued.notAfter, spkiSha256: x.spkiSha256!, qcSscd,
      der: issued.der, issuedAt: x.now,
    };
    return {
      kind: 'issue', messageId, certificate, fingerprint: x.fingerprint, meta,
      event: { subject: CertificateIssuedV1.subject(), envelope: createEnvelope(CertificateIssuedV1, { requestId: cmd.requestId, certificate: summaryOf({ ...certificate, der: Buffer.from(certificate.der), revokedAt: null, revocationReason: null }) }, meta) },
    };
  }

  private registryChecks(x: Examined, lookup: IssueLookup): Rejection | null {
    const { claims, baseCertificate } = x.authorization!;
    const baseSpki = spkiFingerprint(baseCertificate.spki);
    const base = lookup.base;
    // The CA's signature alone is not enough: every certificate issued here verifies under it,
    // temporary keys' own included, and those keys are in the user's hands.
    if (!base || base.spkiSha256 !== baseSpki) return new Rejection('base-certificate-untrusted', 'the base certificate is not in the registry of this CA');
    if (base.profile !== 'cloud-key') return new Rejection('base-certificate-untrusted', 'the x5c certificate is not a cloud key certificate; only a cloud key can authorize');
    if (base.keyId !== claims.baseKeyId || base.userId !== claims.sub) return new Rejection('authorization-invalid', 'the authorization names another key or user than its base certificate was issued for');
    if (base.revoked) return new Rejection('base-certificate-revoked', 'the base certificate was revoked');
    if (x.windowProblem) return new Rejection('window-exceeds-cap', x.windowProblem);
    if (lookup.keyCertified || baseSpki === x.spkiSha256) return new Rejection('public-key-reused', 'this public key already has a certificate');
    return null;
  }

  /** A request id decided before: the same answer for the same request, a refusal for anything else. */
  private answerAgain(previous: IssueDecisionRow, x: Examined, meta: EnvelopeMeta, messageId: string): Write {
    const requestId = x.cmd.requestId;
    const rejected = (code: CertificateRejectionCode, message: string): Write => ({
      kind: 'answer', messageId, outcome: { kind: 'rejected', code },
      event: { subject: CertificateRejectedV1.subject(), envelope: createEnvelope(CertificateRejectedV1, { requestId, code, message }, meta) },
    });
    if (previous.fingerprint !== x.fingerprint) {
      return previous.outcome === 'issued'
        ? rejected('request-conflict', 'this request id already has a certificate for another request')
        : rejected('authorization-replayed', 'this request id was refused before; its authorization cannot be used again');
    }
    if (previous.outcome === 'rejected') return rejected(previous.rejectionCode!, previous.rejectionMessage ?? 'refused');
    return { kind: 'answer-issued', messageId, requestId, serialNumber: previous.serialNumber!, meta };
  }

  /** One transaction for a batch; on a unique-index conflict, each command alone. */
  private async writeBatch(items: Write[]): Promise<Array<Settled<IssueOutcome>>> {
    try {
      const outcomes = await this.writeTogether(items);
      return outcomes.map((value) => ({ ok: true, value }));
    } catch (error) {
      if (!isUniqueViolation(error)) throw error;
      if (items.length === 1) return [{ ok: false, error: new AppError('ca.concurrent-request', 'a concurrent request wrote first; retrying', { retryable: true }) }];
      const results: Array<Settled<IssueOutcome>> = [];
      for (const item of items) results.push((await this.writeBatch([item]))[0]!);
      return results;
    }
  }

  private async writeTogether(batch: Write[]): Promise<IssueOutcome[]> {
    const result = await this.uow.run(async (tx) => {
      // The revocation locks are taken before anything is known of the marks (one statement), so
      // also for a redelivery's issue: shared, they only make a revocation of its base wait a little.
      const bases = batch.flatMap((w) => (w.kind === 'issue' ? [w.certificate.baseSerialNumber!] : []));
      const fresh = await this.registry.markInboxLockingBases(tx.sql, CA_COMMANDS_DURABLE, [...new Set(batch.map((w) => w.messageId))], bases);
      // A message id twice in one batch (a redelivery racing its original): only the first counts.
      const live = batch.map((w) => fresh.delete(w.messageId));
      // Revocation again, in the insert itself: its snapshot is taken with the locks held. A base
      // revoked since the lookup turns its issue into a refusal; the certificate already signed for
      // it is dropped unrecorded and unpublished.
      const recorded = await this.registry.insertIssuedUnlessBaseRevoked(tx.sql, batch.flatMap((w, i) => (live[i] && w.kind === 'issue' ? [{ certificate: w.certificate, fingerprint: w.fingerprint }] : [])));
      const items = batch.map((w, i) => (live[i] && w.kind === 'issue' && !recorded.has(w.certificate.serialNumber) ? revokedMeanwhile(w) : w));
      await this.registry.insertRejectionsMany(tx.sql, items.flatMap((w, i) => (live[i] && w.kind === 'reject' ? [w] : [])));
      const outcomes: IssueOutcome[] = [];
      for (let i = 0; i < items.length; i++) {
        const w = items[i]!;
        if (!live[i]) { outcomes.push({ kind: 'duplicate' }); continue; }
        switch (w.kind) {
          case 'issue':
            tx.emit(w.event);
            outcomes.push({ kind: 'issued', serialNumber: w.certificate.serialNumber });
            break;
          case 'reject':
            tx.emit(w.event);
            outcomes.push({ kind: 'rejected', code: w.code });
            break;
          case 'answer':
            tx.emit(w.event);
            outcomes.push(w.outcome);
            break;
          case 'answer-issued': {
            // It exists: the decision references it.
            const cert = await this.registry.findCertificate(w.serialNumber, tx.manager);
            tx.emit({ subject: CertificateIssuedV1.subject(), envelope: createEnvelope(CertificateIssuedV1, { requestId: w.requestId, certificate: summaryOf(cert!) }, w.meta) });
            outcomes.push({ kind: 'issued', serialNumber: w.serialNumber });
            break;
          }
          default: {
            const never: never = w;
            throw new Error(`unknown write ${String(never)}`);
          }
        }
      }
      return outcomes;
    });
    if (!result.applied) throw new Error('unreachable: the batch has no inbox key of its own');
    return result.value;
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

const REVOKED_MEANWHILE = 'the base certificate was revoked';

/** The CSR as sent, its signature not yet checked, or why it cannot be used. */
function readCsr(base64: string): ParsedCsr | Rejection {
  try {
    return parseCsr(new Uint8Array(Buffer.from(base64, 'base64')));
  } catch (error) {
    if (error instanceof PkiError) return new Rejection('csr-invalid', `the CSR cannot be used: ${error.message}`);
    throw error;
  }
}

function revokedMeanwhile(w: Extract<Write, { kind: 'issue' }>): Write {
  const requestId = w.certificate.requestId!;
  return {
    kind: 'reject', messageId: w.messageId, requestId, fingerprint: w.fingerprint, code: 'base-certificate-revoked', message: REVOKED_MEANWHILE, at: w.certificate.issuedAt,
    event: { subject: CertificateRejectedV1.subject(), envelope: createEnvelope(CertificateRejectedV1, { requestId, code: 'base-certificate-revoked', message: REVOKED_MEANWHILE }, w.meta) },
  };
}

function isUniqueViolation(error: unknown): boolean {
  return (error as { code?: string }).code === '23505' || (error as { driverError?: { code?: string } }).driverError?.code === '23505';
}

const REJECTION_CODES = new Set<string>(['authorization-invalid', 'authorization-expired', 'base-certificate-untrusted', 'base-certificate-expired']);
function isRejectionCode(code: string): code is CertificateRejectionCode {
  return REJECTION_CODES.has(code);
}
