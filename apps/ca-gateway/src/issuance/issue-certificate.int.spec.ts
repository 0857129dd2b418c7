import { randomUUID, webcrypto } from 'node:crypto';
import { CertificateIssuedV1, CertificateRejectedV1, CertificateRevokedV1, GetCaCertificateV1, GetCrlV1, IssueCertificateV1, type IssueCertificateV1 as IssueData } from '@thk/contracts';
import { createLogger } from '@thk/core';
import { UnitOfWork, type InboxKey, type Transaction, type UnitOfWorkResult } from '@thk/persistence';
import {
  AuthorizationVerifier, createCsr, createTestCa, issueTestCertificate, OID, parseCertificate, parseCsr, personSubjectToNameDer, signAuthorization, TEST_PERSON,
} from '@thk/pki';
import type { CertificateAuthority } from '../authority/certificate-authority.js';
import { CertificateRegistry } from '../registry/certificate-registry.js';
import { CA_COMMANDS_DURABLE } from '../revocation/revoke-certificate.service.js';
import { CaGatewayHarness } from '../testing/ca-gateway-harness.js';
import { opensslText, opensslVerify } from '../testing/openssl.js';
import { IssueCertificateService } from './issue-certificate.service.js';

const h = new CaGatewayHarness();
const ISSUED = CertificateIssuedV1.subject();
const REJECTED = CertificateRejectedV1.subject();

beforeAll(async () => { await h.start(); });
afterAll(async () => { await h.close(); });

/** Sends a command and answers the n-th event for its request id. */
async function answer(data: IssueData, nth = 1): Promise<{ subject: string; data: any }> {
  await h.send(IssueCertificateV1.subject(), h.issueEnvelope(data));
  const events = await h.tap.waitFor((e) => e.envelope.data?.requestId === data.requestId, nth);
  const e = events[nth - 1]!;
  return { subject: e.subject, data: e.envelope.data };
}

async function refusal(data: IssueData, nth = 1): Promise<string> {
  const a = await answer(data, nth);
  expect(a.subject).toBe(REJECTED);
  return a.data.code as string;
}

async function rows(sql: string, params: unknown[] = []): Promise<any[]> {
  return h.gateway.dataSource.query(sql, params);
}

/** The subjects of the outbox rows written for a request id (what was, or will be, published). */
async function outboxSubjects(requestId: string): Promise<string[]> {
  return (await rows(`SELECT subject FROM outbox WHERE envelope->'data'->>'requestId' = $1 ORDER BY seq`, [requestId])).map((r) => r.subject);
}

async function until(condition: () => boolean, what: string): Promise<void> {
  for (let waited = 0; !condition(); waited += 20) {
    if (waited > 10_000) throw new Error(`timed out waiting until ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** Its transactions wait to begin until `open()`: commands submitted meanwhile queue up behind them, as under load. */
class GatedUnitOfWork extends UnitOfWork {
  runs = 0;
  open!: () => void;
  private readonly gate = new Promise<void>((resolve) => { this.open = resolve; });

  override async run<T>(work: (tx: Transaction) => Promise<T>, options?: { inbox?: InboxKey }): Promise<UnitOfWorkResult<T>> {
    this.runs++;
    await this.gate;
    return super.run(work, options);
  }
}

/** An IssueCertificateService of its own on the gateway's database and CA, with gated transactions and counted signatures. */
function gatedIssueService(): { service: IssueCertificateService; uow: GatedUnitOfWork; signed: () => number } {
  const ca = h.gateway.ca;
  let signed = 0;
  const counting: CertificateAuthority = {
    kind: ca.kind, issuer: ca.issuer, signCrl: (r) => ca.signCrl(r), close: async () => undefined,
    issue: async (r) => { const issued = await ca.issue(r); signed++; return issued; },
  };
  const uow = new GatedUnitOfWork(h.gateway.dataSource);
  const settings = { clockToleranceSeconds: h.config.clockToleranceSeconds, maxBackdateSeconds: h.config.maxBackdateSeconds };
  const service = new IssueCertificateService(
    uow, new CertificateRegistry(h.gateway.dataSource), counting, new AuthorizationVerifier({ issuer: { subject: ca.issuer.subject, publicKey: ca.issuer.publicKey } }),
    settings, () => h.now, createLogger('issue-test', { level: 'silent' }));
  return { service, uow, signed: () => signed };
}

describe('IssueCertificate (ca-gateway started for real on NATS and Postgres)', () => {
  describe('a valid request', () => {
    it('answers CertificateIssued with a certificate that passes openssl verify -crl_check', async () => {
      const base = await h.certifiedBaseKey();
      const { data } = await h.request(base);
      const a = await answer(data);
      expect(a.subject).toBe(ISSUED);
      const der = new Uint8Array(Buffer.from(a.data.certificate.der, 'base64'));
      const parsed = parseCertificate(der);
      expect(Buffer.from(parsed.subject)).toEqual(Buffer.from(parseCertificate(base.certificate).subject));
      expect(a.data.certificate).toMatchObject({
        serialNumber: parsed.serialNumber,
        notBefore: new Date(Math.floor(h.now.getTime() / 1000) * 1000).toISOString(),
        notAfter: new Date(Math.floor(new Date(data.notAfter).getTime() / 1000) * 1000).toISOString(),
        subject: 'CN=Тест Тест Тест, SN=Тест, G=Тест Тест, serialNumber=TINUA-1111111111, C=UA',
        issuer: 'CN=THK Test Issuing CA, C=UA',
      });
      expect(parsed.serialNumber).toMatch(/^[0-9a-f]{32}$/);
      const { pem } = await h.rpc.call(GetCaCertificateV1, {});
      const crl = await h.rpc.call(GetCrlV1, {});
      expect(await opensslVerify(pem, Buffer.from(crl.der, 'base64'), der)).toEqual({ ok: true, output: expect.stringContaining(': OK') });
      expect(await opensslVerify(pem, Buffer.from(crl.der, 'base64'), base.certificate)).toEqual({ ok: true, output: expect.stringContaining(': OK') });
      const text = await opensslText(der);
      expect(text).toMatch(/X509v3 Key Usage: critical\s+Digital Signature, Non Repudiation/);
      expect(text).toMatch(/X509v3 Basic Constraints: critical\s+CA:FALSE/);
      expect(text).toContain('X509v3 Subject Key Identifier');
      expect(text).toContain('X509v3 Authority Key Identifier');
      expect(text).toContain('URI:http://127.0.0.1:8080/pki/crl');
      expect(text).toContain(`Policy: ${OID.policyQcpNaturalQscd}`);
      expect(text).toContain('serialNumber=TINUA-1111111111');
      const qc = parsed.extensions.find((e) => e.oid === OID.qcStatements)!;
      expect(Buffer.from(qc.value).toString('hex')).toContain('0604008e460104'); // QcSSCD 0.4.0.1862.1.4
      expect(Buffer.from(qc.value).toString('hex')).toContain('0604008e460101'); // QcCompliance
      const metrics = await (await fetch(`${h.gateway.url}/metrics`)).text();
      expect(metrics).toMatch(/ca_certificates_issued_total\{profile="temporary-hardware-key"\} [1-9]/);
    });

    it('leaves QcSSCD out when the key lacks on-token evidence', async () => {
      const base = await h.certifiedBaseKey();
      const { data } = await h.request(base, { evidence: { neverExtractable: false } });
      const a = await answer(data);
      expect(a.subject).toBe(ISSUED);
      const parsed = parseCertificate(new Uint8Array(Buffer.from(a.data.certificate.der, 'base64')));
      const qc = parsed.extensions.find((e) => e.oid === OID.qcStatements)!;
      expect(Buffer.from(qc.value).toString('hex')).not.toContain('0604008e460104');
      expect(Buffer.from(qc.value).toString('hex')).toContain('0604008e460101');
      expect(await opensslText(parsed.der)).toContain(`Policy: ${OID.policyQcpNatural}\n`);
    });

    it('issues "until the end of the base certificate" exactly to the base notAfter', async () => {
      const base = await h.certifiedBaseKey({ notAfter: new Date(h.now.getTime() + 40 * 86_400_000) });
      const { data } = await h.request(base, { validity: 'base' });
      const a = await answer(data);
      expect(a.subject).toBe(ISSUED);
      expect(a.data.certificate.notAfter).toBe(base.notAfter.toISOString());
    });

    it('issues for an RSA-2048 token key', async () => {
      const base = await h.certifiedBaseKey();
      const keys = await webcrypto.subtle.generateKey({ name: 'RSASSA-PKCS1-v1_5', modulusLength: 2048, publicExponent: new Uint8Array([1, 0, 1]), hash: 'SHA-256' }, false, ['sign', 'verify']) as CryptoKeyPair;
      const { data } = await h.request(base, { tokenKeys: keys });
      const a = await answer({ ...data, algorithm: 'RSA-2048' });
      expect(a.subject).toBe(ISSUED);
    });
  });

  describe('refusals', () => {
    it('refuses a CSR whose signature does not verify (no proof of possession)', async () => {
      const base = await h.certifiedBaseKey();
      const { data } = await h.request(base);
      const csr = Buffer.from(data.csr, 'base64');
      const i = csr.indexOf(Buffer.from('TINUA-1111111111'));
      csr[i + 6] = '9'.charCodeAt(0);
      expect(await refusal({ ...data, csr: csr.toString('base64') })).toBe('csr-invalid');
    });

    it('refuses malformed and truncated CSR DER, and keeps serving', async () => {
      const base = await h.certifiedBaseKey();
      const { data } = await h.request(base);
      const csr = Buffer.from(data.csr, 'base64');
      for (const bad of [csr.subarray(0, csr.length - 1), csr.subarray(0, 40), Buffer.from('not DER at all'), Buffer.concat([csr, Buffer.of(0)])]) {
        const { data: d } = await h.request(base);
        expect(await refusal({ ...d, csr: bad.toString('base64') })).toBe('csr-invalid');
      }
      const { data: ok } = await h.request(base);
      expect((await answer(ok)).subject).toBe(ISSUED);
    });

    it('refuses truncated or garbled authorizations', async () => {
      const base = await h.certifiedBaseKey();
      const { data } = await h.request(base);
      const [head, payload, sig] = data.authorization.split('.') as [string, string, string];
      for (const bad of [`${head}.${payload}.${sig.slice(0, 20)}`, `${head.slice(0, 30)}.${payload}.${sig}`, `${head}.${payload.slice(0, payload.length - 8)}.${sig}`, 'aaaaaaaaaaaaaaaaaaaaaa.bbbb.cccc']) {
        const { data: d } = await h.request(base);
        expect(await refusal({ ...d, authorization: bad })).toBe('authorization-invalid');
      }
    });

    it('refuses an authorization signed by another key than the base certificate\'s', async () => {
      const base = await h.certifiedBaseKey();
      const other = await h.certifiedBaseKey();
      const { data } = await h.request({ ...base, privateKey: other.privateKey });
      expect(await refusal(data)).toBe('authorization-invalid');
    });

    it('refuses an authorization whose base certificate another CA issued', async () => {
      const foreignCa = await createTestCa({ commonName: 'THK Test Issuing CA' });
      const foreign = await issueTestCertificate(foreignCa, { notBefore: new Date(h.now.getTime() - 86_400_000), notAfter: new Date(h.now.getTime() + 100 * 86_400_000) });
      const { data } = await h.request({ userId: randomUUID(), keyId: randomUUID(), subject: TEST_PERSON, privateKey: foreign.privateKey, certificate: foreign.certificate, serialNumber: parseCertificate(foreign.certificate).serialNumber, notAfter: new Date(h.now.getTime() + 100 * 86_400_000) });
      expect(await refusal(data)).toBe('base-certificate-untrusted');
    });

    it('refuses an expired authorization', async () => {
      const base = await h.certifiedBaseKey();
      const { data } = await h.request(base, { authorizedAt: new Date(h.now.getTime() - 11 * 60_000), notBefore: new Date(h.now.getTime() - 10 * 60_000) });
      expect(await refusal(data)).toBe('authorization-expired');
    });

    it('refuses an authorization given for another request id', async () => {
      const base = await h.certifiedBaseKey();
      const { data } = await h.request(base);
      const { data: other } = await h.request(base);
      expect(await refusal({ ...data, authorization: other.authorization })).toBe('authorization-invalid');
    });

    it('refuses a replayed jti: a refused request id cannot be tried again', async () => {
      const base = await h.certifiedBaseKey();
      const { data } = await h.request(base, { validity: 'P1D', notAfter: new Date(h.now.getTime() + 2 * 86_400_000) });
      expect(await refusal(data)).toBe('window-exceeds-cap');
      const fixed = { ...data, notAfter: new Date(h.now.getTime() + 86_400_000).toISOString() };
      expect(await refusal(fixed, 2)).toBe('authorization-replayed');
      expect(await rows('SELECT count(*)::int AS n FROM issued_certificates WHERE request_id = $1', [data.requestId])).toEqual([{ n: 0 }]);
    });

    it('refuses when the base certificate was revoked', async () => {
      const base = await h.certifiedBaseKey();
      await h.send('ca.cmd.revoke-certificate.v1', h.revokeEnvelope(base.serialNumber, 'keyCompromise'));
      await h.tap.waitFor((e) => e.envelope.data?.serialNumber === base.serialNumber);
      const { data } = await h.request(base);
      expect(await refusal(data)).toBe('base-certificate-revoked');
    });

    it('refuses an authorization signed by a temporary key with its own certificate (issued by this CA, not a cloud key)', async () => {
      const base = await h.certifiedBaseKey();
      const first = await h.request(base);
      const a = await answer(first.data);
      expect(a.subject).toBe(ISSUED);
      // The user holds this key on the token; its certificate verifies under the CA like the base's.
      const temporary = {
        ...base, privateKey: first.tokenKeys.privateKey, certificate: new Uint8Array(Buffer.from(a.data.certificate.der, 'base64')),
        serialNumber: a.data.certificate.serialNumber as string, notAfter: new Date(a.data.certificate.notAfter),
      };
      const { data } = await h.request(temporary);
      expect(await refusal(data)).toBe('base-certificate-untrusted');
      expect(await rows('SELECT count(*)::int AS n FROM issued_certificates WHERE request_id = $1', [data.requestId])).toEqual([{ n: 0 }]);
    });

    it('refuses a base certificate signed by this CA that is not in its registry', async () => {
      const keys = await webcrypto.subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-256' }, false, ['sign', 'verify']) as CryptoKeyPair;
      const csr = parseCsr(await createCsr(TEST_PERSON, keys));
      const notAfter = new Date(h.now.getTime() + 100 * 86_400_000);
      const unrecorded = await h.gateway.ca.issue({
        profile: 'cloud-key', subject: personSubjectToNameDer(TEST_PERSON), spki: csr.spki, publicKeyBits: csr.publicKeyBits,
        notBefore: new Date(h.now.getTime() - 86_400_000), notAfter, qcSscd: false,
      });
      const { data } = await h.request({ userId: randomUUID(), keyId: randomUUID(), subject: TEST_PERSON, privateKey: keys.privateKey, certificate: unrecorded.der, serialNumber: unrecorded.serialNumber, notAfter });
      expect(await refusal(data)).toBe('base-certificate-untrusted');
    });

    it('refuses an authorization whose baseKeyId or sub is not what its base certificate was issued for', async () => {
      const base = await h.certifiedBaseKey();
      const other = await h.certifiedBaseKey();
      const { data: wrongKey } = await h.request({ ...base, keyId: other.keyId });
      expect(await refusal(wrongKey)).toBe('authorization-invalid');
      const { data: wrongUser } = await h.request({ ...base, userId: other.userId });
      expect(await refusal(wrongUser)).toBe('authorization-invalid');
      const { data: ok } = await h.request(base);
      expect((await answer(ok)).subject).toBe(ISSUED);
    });

    it('refuses when the base certificate is revoked after the lookup but before the issuing transaction commits', async () => {
      const base = await h.certifiedBaseKey();
      const revoker = h.gateway.dataSource.createQueryRunner();
      await revoker.connect();
      try {
        await revoker.startTransaction();
        // What RevokeCertificate does (the registry's own calls): the revocation lock, then the mark, committed later.
        const registry = new CertificateRegistry(h.gateway.dataSource);
        await registry.lockForRevocation(revoker.manager, base.serialNumber);
        await registry.markRevoked(revoker.manager, base.serialNumber, new Date(), 'keyCompromise', 'test', null);
        const { data } = await h.request(base);
        await h.send(IssueCertificateV1.subject(), h.issueEnvelope(data));
        // The lookup saw the base unrevoked; the issuing transaction now waits for the revocation's lock.
        for (let waited = 0; ; waited += 50) {
          const [{ n }] = await rows(`SELECT count(*)::int AS n FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid WHERE NOT l.granted AND a.datname = current_database()`);
          if (n > 0) break;
          if (waited > 10_000) throw new Error('the issuing transaction never waited for the revocation lock');
          await new Promise((r) => setTimeout(r, 50));
        }
        await revoker.commitTransaction();
        const [answered] = await h.tap.waitFor((e) => e.envelope.data?.requestId === data.requestId);
        expect(answered).toMatchObject({ subject: REJECTED, envelope: { data: { code: 'base-certificate-revoked' } } });
        expect(await rows('SELECT count(*)::int AS n FROM issued_certificates WHERE request_id = $1', [data.requestId])).toEqual([{ n: 0 }]);
        expect(await rows('SELECT outcome, rejection_code AS code FROM issue_requests WHERE request_id = $1', [data.requestId])).toEqual([{ outcome: 'rejected', code: 'base-certificate-revoked' }]);
        expect(await outboxSubjects(data.requestId)).toEqual([REJECTED]);
      } finally {
        if (revoker.isTransactionActive) await revoker.rollbackTransaction();
        await revoker.release();
      }
    });

    it('refuses, in a batch, the issue whose base certificate was revoked after its lookup, and issues the others', async () => {
      const { service, uow, signed } = gatedIssueService();
      const base = await h.certifiedBaseKey();
      const doomedBase = await h.certifiedBaseKey();
      const blockers = [(await h.request(base)).data, (await h.request(base)).data];
      const doomed = (await h.request(doomedBase)).data;
      const normal = (await h.request(base)).data;
      const marked = (await h.request(base)).data;
      const markedEnvelope = h.issueEnvelope(marked);
      // Its inbox mark is there already (its first delivery wrote it and nothing else got decided): a duplicate.
      await rows('INSERT INTO inbox (consumer, message_id) VALUES ($1, $2)', [CA_COMMANDS_DURABLE, markedEnvelope.id]);
      // Two commands take both transactions in flight and wait; the next three, looked up and signed meanwhile, queue behind them.
      const blocked = blockers.map((d) => service.handle(h.issueEnvelope(d)));
      await until(() => uow.runs === 2 && signed() === 2, 'both transactions wait');
      const queued = [doomed, normal].map((d) => service.handle(h.issueEnvelope(d))).concat(service.handle(markedEnvelope));
      await until(() => signed() === 5, 'the queued commands are signed');
      await new Promise((r) => setImmediate(r));
      // Revoked after the lookup that saw the base valid, committed before the batch's transaction begins.
      const revocation = h.revokeEnvelope(doomedBase.serialNumber, 'keyCompromise');
      await h.send('ca.cmd.revoke-certificate.v1', revocation);
      await h.tap.waitFor((e) => e.subject === CertificateRevokedV1.subject() && e.envelope.data.serialNumber === doomedBase.serialNumber);
      uow.open();
      expect(await Promise.all(blocked)).toEqual([{ kind: 'issued', serialNumber: expect.any(String) }, { kind: 'issued', serialNumber: expect.any(String) }]);
      expect(await Promise.all(queued)).toEqual([{ kind: 'rejected', code: 'base-certificate-revoked' }, { kind: 'issued', serialNumber: expect.any(String) }, { kind: 'duplicate' }]);
      expect(uow.runs).toBe(3); // the queued three went in one transaction
      expect(await rows('SELECT request_id AS "requestId", outcome, rejection_code AS code FROM issue_requests WHERE request_id = ANY($1::uuid[]) ORDER BY outcome',
        [[doomed.requestId, normal.requestId, marked.requestId]])).toEqual([
        { requestId: normal.requestId, outcome: 'issued', code: null },
        { requestId: doomed.requestId, outcome: 'rejected', code: 'base-certificate-revoked' },
      ]);
      expect(await rows('SELECT request_id AS "requestId" FROM issued_certificates WHERE request_id = ANY($1::uuid[])', [[doomed.requestId, normal.requestId, marked.requestId]]))
        .toEqual([{ requestId: normal.requestId }]);
      expect(await outboxSubjects(doomed.requestId)).toEqual([REJECTED]);
      expect(await outboxSubjects(normal.requestId)).toEqual([ISSUED]);
      expect(await outboxSubjects(marked.requestId)).toEqual([]);
    });

    it('refuses when the base certificate is not valid now', async () => {
      const base = await h.certifiedBaseKey({ notBefore: new Date(h.now.getTime() - 400 * 86_400_000), notAfter: new Date(h.now.getTime() - 35 * 86_400_000) });
      const { data } = await h.request(base, { notAfter: new Date(h.now.getTime() + 86_400_000) });
      expect(await refusal(data)).toBe('base-certificate-expired');
    });

    it('refuses a window beyond the base certificate, the authorized cap or the option', async () => {
      const base = await h.certifiedBaseKey({ notAfter: new Date(h.now.getTime() + 3 * 86_400_000) });
      const { data: beyondBase } = await h.request(base, { validity: 'P1W', notAfter: new Date(base.notAfter.getTime() + 1_000) });
      expect(await refusal(beyondBase)).toBe('window-exceeds-cap');
      const { data: beyondOption } = await h.request(base, { validity: 'P1D', notAfter: new Date(h.now.getTime() + 2 * 86_400_000) });
      expect(await refusal(beyondOption)).toBe('window-exceeds-cap');
      const { data: backdated } = await h.request(base, { notBefore: new Date(h.now.getTime() - 3_600_000) });
      expect(await refusal(backdated)).toBe('window-exceeds-cap');
    });

    it('refuses a public key that already has a certificate', async () => {
      const base = await h.certifiedBaseKey();
      const first = await h.request(base);
      expect((await answer(first.data)).subject).toBe(ISSUED);
      const { data: again } = await h.request(base, { tokenKeys: first.tokenKeys });
      expect(await refusal(again)).toBe('public-key-reused');
    });

    it('refuses the base key itself as the new key', async () => {
      const base = await h.certifiedBaseKey();
      const publicKey = await webcrypto.subtle.importKey('spki', parseCertificate(base.certificate).spki, { name: 'ECDSA', namedCurve: 'P-256' }, true, ['verify']);
      const { data } = await h.request(base);
      const csr = Buffer.from(await createCsr(TEST_PERSON, { privateKey: base.privateKey as CryptoKey, publicKey })).toString('base64');
      expect(await refusal({ ...data, csr })).toBe('public-key-reused');
    });

    it('refuses a different CSR for a request id that already has its certificate', async () => {
      const base = await h.certifiedBaseKey();
      const { data } = await h.request(base);
      expect((await answer(data)).subject).toBe(ISSUED);
      const otherKeys = await webcrypto.subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-256' }, false, ['sign', 'verify']) as CryptoKeyPair;
      const conflicting = { ...data, csr: Buffer.from(await createCsr(base.subject, otherKeys)).toString('base64') };
      expect(await refusal(conflicting, 2)).toBe('request-conflict');
      expect(await rows('SELECT count(*)::int AS n FROM issued_certificates WHERE request_id = $1', [data.requestId])).toEqual([{ n: 1 }]);
    });

    it('refuses a request for another token than the authorized one', async () => {
      const base = await h.certifiedBaseKey();
      const { data } = await h.request(base, { tokenSerial: '220771' });
      expect(await refusal({ ...data, tokenSerial: '999999' })).toBe('token-mismatch');
    });

    it('refuses a key algorithm other than the request says', async () => {
      const base = await h.certifiedBaseKey();
      const { data } = await h.request(base);
      expect(await refusal({ ...data, algorithm: 'RSA-2048' })).toBe('profile-violation');
    });

    it('refuses an authorization signed outside this CA but under its name (x5c self-made)', async () => {
      const base = await h.certifiedBaseKey();
      const fake = await createTestCa({ commonName: 'THK Test Issuing CA' });
      const forged = await issueTestCertificate(fake, { notBefore: new Date(h.now.getTime() - 1_000), notAfter: new Date(h.now.getTime() + 86_400_000) });
      const { data } = await h.request(base);
      const authorization = await signAuthorization({ sub: base.userId, jti: data.requestId, baseKeyId: base.keyId, tokenSerial: data.tokenSerial, validity: 'P1W', notAfterCap: base.notAfter.toISOString() }, { privateKey: forged.privateKey, certificate: forged.certificate, now: h.now });
      expect(await refusal({ ...data, authorization })).toBe('base-certificate-untrusted');
    });
  });

  describe('idempotency', () => {
    it('changes nothing when the same IssueCertificate message is delivered twice', async () => {
      const base = await h.certifiedBaseKey();
      const { data } = await h.request(base);
      const envelope = h.issueEnvelope(data);
      await h.send(IssueCertificateV1.subject(), envelope);
      await h.tap.waitFor((e) => e.envelope.data?.requestId === data.requestId);
      await h.redeliver(IssueCertificateV1.subject(), envelope);
      // A later command on the same consumer proves the redelivery was processed before we count.
      const { data: marker } = await h.request(base);
      await answer(marker);
      await h.gateway.flushOutbox();
      expect(h.tap.forRequest(data.requestId)).toHaveLength(1);
      expect(await rows('SELECT count(*)::int AS n FROM issued_certificates WHERE request_id = $1', [data.requestId])).toEqual([{ n: 1 }]);
      expect(await rows('SELECT count(*)::int AS n FROM inbox WHERE message_id = $1', [envelope.id])).toEqual([{ n: 1 }]);
    });

    it('writes nothing and answers duplicate when the inbox holds the message already, though the request id was never decided', async () => {
      const base = await h.certifiedBaseKey();
      const { data } = await h.request(base);
      const envelope = h.issueEnvelope(data);
      await rows('INSERT INTO inbox (consumer, message_id) VALUES ($1, $2)', [CA_COMMANDS_DURABLE, envelope.id]);
      expect(await h.gateway.services.issue.handle(envelope)).toEqual({ kind: 'duplicate' });
      expect(await rows('SELECT count(*)::int AS n FROM issued_certificates WHERE request_id = $1', [data.requestId])).toEqual([{ n: 0 }]);
      expect(await rows('SELECT count(*)::int AS n FROM issue_requests WHERE request_id = $1', [data.requestId])).toEqual([{ n: 0 }]);
      expect(await rows('SELECT count(*)::int AS n FROM inbox WHERE message_id = $1', [envelope.id])).toEqual([{ n: 1 }]);
      expect(await outboxSubjects(data.requestId)).toEqual([]);
    });

    it('answers the same certificate when the same request comes again under a new message id', async () => {
      const base = await h.certifiedBaseKey();
      const { data } = await h.request(base);
      const first = await answer(data);
      const second = await answer(data, 2);
      expect(second.subject).toBe(ISSUED);
      expect(second.data.certificate).toEqual(first.data.certificate);
      expect(await rows('SELECT count(*)::int AS n FROM issued_certificates WHERE request_id = $1', [data.requestId])).toEqual([{ n: 1 }]);
    });

    it('answers the same refusal when a refused request comes again unchanged', async () => {
      const base = await h.certifiedBaseKey();
      const { data } = await h.request(base, { tokenSerial: '1' });
      const bad = { ...data, tokenSerial: '2' };
      expect(await refusal(bad)).toBe('token-mismatch');
      expect(await refusal(bad, 2)).toBe('token-mismatch');
    });
  });
});
