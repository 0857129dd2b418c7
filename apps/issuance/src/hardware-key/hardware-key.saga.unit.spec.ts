import fc from 'fast-check';
import type { CertificateRejectionCode, PrivateKeyRemainingCode, TokenFailureCode } from '@thk/contracts';
import {
  initialState, react, type Outbound, type RequestFacts, type SagaContext, type SagaInput, type SagaState,
} from './hardware-key.saga.js';

// ───────── fixtures ─────────

const T0 = Date.parse('2021-08-25T13:59:00.000Z');
const AGENT_MS = 120_000;
const CA_MS = 30_000;
const ctxAt = (offsetMs = 0): SagaContext => ({ now: new Date(T0 + offsetMs), agentStepMs: AGENT_MS, caStepMs: CA_MS });

const AGENT = 'demo-agent';
const SERIAL = '220771';
const REQUEST_ID = '6f1c3d2a-8b4e-4f5a-9c7d-1e2f3a4b5c6d';
const KEY_ID = 'a1b2c3d4';
const CERT_SERIAL = '0badc0de';
const JWS = 'eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJlLXNpZ25hdHVyZQ';
const NEW_PIN = 'eyJhbGciOiJFQ0RILUVTIn0..aXZpdml2aXZpdg.Y2lwaGVy.dGFndGFndGFn';

const request: RequestFacts = {
  requestId: REQUEST_ID,
  userId: '0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d',
  baseKeyId: '11111111-2222-4333-8444-555555555555',
  keyAccountId: '99999999-8888-4777-8666-555555555555',
  token: { agentId: AGENT, tokenId: `${AGENT}:${SERIAL}`, serial: SERIAL, model: 'е.ключ IIT Алмаз-1К', label: SERIAL },
  algorithm: 'EC-P256',
  validity: { option: 'base', notBefore: '2021-08-25T13:59:00.000Z', notAfter: '2022-08-25T13:21:00.000Z', capped: false, cappedBy: null },
  subject: { commonName: 'Тест Тест Тест', surname: 'Тест', givenName: 'Тест Тест', serialNumber: 'TINUA-1111111111', organization: null, organizationIdentifier: null, title: null, country: 'UA' },
  authorization: JWS,
  sealedNewPin: NEW_PIN,
  requestedAt: '2021-08-25T13:59:00.000Z',
};

const evidence = { local: true, neverExtractable: true, alwaysSensitive: true, attestation: null };
const certificate = (serialNumber = CERT_SERIAL, notAfter = request.validity.notAfter) => ({
  serialNumber, subject: 'CN=Тест Тест Тест', issuer: 'CN=THK Dev CA', notBefore: request.validity.notBefore, notAfter, der: 'MIIBdGVzdA==',
});

const start: SagaInput = { type: 'Start', request, sealedCurrentPin: null };
const generated = (over: Partial<{ keyId: string; algorithm: 'EC-P256' | 'RSA-2048'; agentId: string; tokenSerial: string }> = {}): SagaInput => ({
  type: 'TokenKeyGenerated', agentId: over.agentId ?? AGENT,
  data: { requestId: REQUEST_ID, tokenSerial: over.tokenSerial ?? SERIAL, keyId: over.keyId ?? KEY_ID, algorithm: over.algorithm ?? 'EC-P256', csr: 'MIIBY3Ny', evidence },
});
const generationFailed = (code: TokenFailureCode, agentId = AGENT): SagaInput => ({
  type: 'TokenKeyGenerationFailed', agentId, data: { requestId: REQUEST_ID, tokenSerial: SERIAL, code, message: `agent says ${code}` },
});
const issued = (serialNumber = CERT_SERIAL, notAfter?: string): SagaInput => ({ type: 'CertificateIssued', data: { requestId: REQUEST_ID, certificate: certificate(serialNumber, notAfter) } });
const caRejected = (code: CertificateRejectionCode = 'csr-invalid'): SagaInput => ({ type: 'CertificateRejected', data: { requestId: REQUEST_ID, code, message: 'no' } });
const installed = (over: Partial<{ keyId: string; serial: string; agentId: string }> = {}): SagaInput => ({
  type: 'CertificateInstalled', agentId: over.agentId ?? AGENT,
  data: { requestId: REQUEST_ID, tokenSerial: SERIAL, keyId: over.keyId ?? KEY_ID, certificateSerialNumber: over.serial ?? CERT_SERIAL },
});
const installFailed = (code: TokenFailureCode = 'certificate-mismatch'): SagaInput => ({
  type: 'CertificateInstallFailed', agentId: AGENT, data: { requestId: REQUEST_ID, tokenSerial: SERIAL, keyId: KEY_ID, code, message: 'read-back differs' },
});
const destroyed = (agentId = AGENT): SagaInput => ({ type: 'TokenKeyDestroyed', agentId, data: { requestId: REQUEST_ID, tokenSerial: SERIAL, destroyedObjects: 2 } });
const destroyedLeavingPrivateKey = (code: PrivateKeyRemainingCode, message: string): SagaInput => ({
  type: 'TokenKeyDestroyed', agentId: AGENT, data: { requestId: REQUEST_ID, tokenSerial: SERIAL, destroyedObjects: 1, privateKeyRemaining: { code, message } },
});
const revoked = (serialNumber = CERT_SERIAL): SagaInput => ({ type: 'CertificateRevoked', data: { serialNumber, reason: 'cessationOfOperation', revokedAt: '2021-08-25T14:00:00.000Z' } });
const deadline: SagaInput = { type: 'DeadlineExpired' };

// ───────── given / when / then ─────────

interface Timed { input: SagaInput; at?: number }
const timed = (x: SagaInput | Timed): Timed => ('input' in x ? x : { input: x });
const atMs = (input: SagaInput, at: number): Timed => ({ input, at });

/** Folds earlier inputs into a state; each must have been applied (a scenario, not noise). */
function given(...history: Array<SagaInput | Timed>): SagaState {
  return history.map(timed).reduce<SagaState>((state, { input, at }) => {
    const r = react(state, input, ctxAt(at));
    if (r.decision.outcome !== 'applied') throw new Error(`given: ${input.type} was ${r.decision.outcome}: ${'reason' in r.decision ? r.decision.reason : ''}`);
    return r.state;
  }, initialState);
}

function when(state: SagaState, input: SagaInput, at = 1_000) {
  const r = react(state, input, ctxAt(at));
  return {
    ...r,
    sent: <M extends Outbound['message']>(message: M) => r.send.filter((m): m is Extract<Outbound, { message: M }> => m.message === message),
    commands: r.send.filter((m) => m.message !== 'HardwareKeyRequestProgressed').map((m) => m.message),
    progress: r.send.flatMap((m) => (m.message === 'HardwareKeyRequestProgressed' ? [[m.data.sequence, m.data.status] as const] : [])),
  };
}

const happyUntil = {
  keyGenerating: [start],
  certificateIssuing: [start, generated()],
  installing: [start, generated(), issued()],
};

describe('hardware key saga', () => {
  describe('Start', () => {
    it('persists the request, announces it, orders key generation and reports two steps', () => {
      const then = when(initialState, start, 0);
      expect(then.decision.outcome).toBe('applied');
      expect(then.state).toMatchObject({ status: 'key-generating', deadlineAt: new Date(T0 + AGENT_MS).toISOString() });
      // The command first: it is the next step of the chain; the event only informs accounts.
      expect(then.commands).toEqual(['GenerateTokenKey', 'HardwareKeyRequested']);
      expect(then.sent('GenerateTokenKey')[0]).toEqual({
        message: 'GenerateTokenKey', agentId: AGENT,
        data: { requestId: REQUEST_ID, tokenSerial: SERIAL, algorithm: 'EC-P256', label: `thk-${REQUEST_ID}`, subject: request.subject, sealedNewPin: NEW_PIN, sealedCurrentPin: null },
      });
      expect(then.sent('HardwareKeyRequested')[0]!.data).toMatchObject({ requestId: REQUEST_ID, keyAccountId: request.keyAccountId, validity: request.validity, token: request.token });
      expect(then.progress).toEqual([[1, 'requested'], [2, 'key-generating']]);
    });

    it('keeps the sealed current PIN out of the saga state (it travels only in the command)', () => {
      const CURRENT_PIN = 'eyJhbGciOiJFQ0RILUVTIn0..Y3VycmVudGN1cnI.Y3VycmVudA.Y3VycmVudHRhZw';
      const then = when(initialState, { ...start, sealedCurrentPin: CURRENT_PIN }, 0);
      expect(then.sent('GenerateTokenKey')[0]!.data).toMatchObject({ sealedCurrentPin: CURRENT_PIN });
      expect(JSON.stringify(then.state)).not.toContain(CURRENT_PIN);
    });

    it('ignores a second start of the same saga', () => {
      expect(when(given(start), start).decision).toEqual({ outcome: 'ignored', reason: 'the saga has started already' });
    });
  });

  describe('TokenKeyGenerated', () => {
    it('orders the certificate with the CSR, the authorization and the agreed window', () => {
      const then = when(given(start), generated(), 5_000);
      expect(then.state).toMatchObject({ status: 'certificate-issuing', key: { keyId: KEY_ID }, deadlineAt: new Date(T0 + 5_000 + CA_MS).toISOString() });
      expect(then.commands).toEqual(['IssueCertificate']);
      expect(then.sent('IssueCertificate')[0]!.data).toEqual({
        requestId: REQUEST_ID, profile: 'temporary-hardware-key', csr: 'MIIBY3Ny', authorization: JWS, tokenSerial: SERIAL,
        algorithm: 'EC-P256', notBefore: request.validity.notBefore, notAfter: request.validity.notAfter, evidence,
      });
      expect(then.progress).toEqual([[3, 'key-generated'], [4, 'certificate-issuing']]);
    });

    it('destroys a key of another algorithm than asked for and fails with token-error', () => {
      const then = when(given(start), generated({ algorithm: 'RSA-2048' }));
      expect(then.state).toMatchObject({ status: 'compensating', failure: { code: 'token-error' }, awaiting: { kind: 'destroy-token-key' } });
      expect(then.commands).toEqual(['DestroyTokenKey']);
    });

    it('absorbs a duplicate', () => {
      expect(when(given(start, generated()), generated()).decision.outcome).toBe('ignored');
      expect(when(given(...happyUntil.installing), generated()).decision.outcome).toBe('ignored');
    });

    it('rejects an event from another agent than the saga\'s, leaving the saga as it was', () => {
      const state = given(start);
      const then = when(state, generated({ agentId: 'mallory-agent' }));
      expect(then.decision).toMatchObject({ outcome: 'rejected', reason: expect.stringContaining('mallory-agent') });
      expect(then.state).toBe(state);
      expect(then.send).toEqual([]);
    });

    it('rejects an event that names another token', () => {
      expect(when(given(start), generated({ tokenSerial: '999999' })).decision.outcome).toBe('rejected');
    });
  });

  describe('TokenKeyGenerationFailed', () => {
    it.each([
      ['token-absent', 'token-absent', false],
      ['token-pin-locked', 'token-pin-locked', false],
      ['wrong-token-password', 'wrong-token-password', false],
      ['pin-policy', 'pin-policy', false],
      ['algorithm-unsupported', 'algorithm-unsupported', false],
      ['sealed-password-invalid', 'token-error', false],
      ['token-error', 'token-error', true],
    ] as const)('maps %s to %s (destroys a possible key: %s)', (agentCode, code, destroys) => {
      const then = when(given(start), generationFailed(agentCode));
      expect(then.commands).toEqual(destroys ? ['DestroyTokenKey'] : ['HardwareKeyRequestFailed']);
      expect(then.state).toMatchObject({ status: destroys ? 'compensating' : 'failed', failure: { code, detail: `agent says ${agentCode}` } });
      expect(then.progress).toEqual(destroys ? [[3, 'compensating']] : [[3, 'compensating'], [4, 'failed']]);
    });

    it('fails at once when nothing reached the token, telling accounts to mark the pending key failed', () => {
      const then = when(given(start), generationFailed('pin-policy'));
      expect(then.sent('HardwareKeyRequestFailed')[0]!.data).toMatchObject({ requestId: REQUEST_ID, keyAccountId: request.keyAccountId, code: 'pin-policy' });
      expect(then.sent('HardwareKeyRequestProgressed').at(-1)!.data).toMatchObject({ status: 'failed', failure: { code: 'pin-policy' }, keyId: null });
      expect(then.state.status === 'failed' && then.state.deadlineAt).toBeNull();
    });

    it('ignores a failure reported after the key was generated (out of order)', () => {
      expect(when(given(...happyUntil.installing), generationFailed('token-error')).decision.outcome).toBe('ignored');
    });
  });

  describe('CertificateIssued', () => {
    it('orders the install on the saga\'s token', () => {
      const then = when(given(...happyUntil.certificateIssuing), issued(), 7_000);
      expect(then.state).toMatchObject({ status: 'installing', certificate: { serialNumber: CERT_SERIAL }, deadlineAt: new Date(T0 + 7_000 + AGENT_MS).toISOString() });
      expect(then.sent('InstallCertificate')).toEqual([{ message: 'InstallCertificate', agentId: AGENT, data: { requestId: REQUEST_ID, tokenSerial: SERIAL, keyId: KEY_ID, certificate: 'MIIBdGVzdA==' } }]);
      expect(then.progress).toEqual([[5, 'certificate-issued'], [6, 'installing']]);
    });

    it('revokes a certificate that outlives the agreed window, then destroys the key', () => {
      const then = when(given(...happyUntil.certificateIssuing), issued(CERT_SERIAL, '2030-01-01T00:00:00.000Z'));
      expect(then.commands).toEqual(['RevokeCertificate']);
      expect(then.state).toMatchObject({ status: 'compensating', failure: { code: 'ca-rejected' }, awaiting: { kind: 'revoke-certificate', serialNumber: CERT_SERIAL }, pending: [{ kind: 'destroy-token-key' }] });
    });

    it('ignores a certificate before any key was generated (out of order)', () => {
      expect(when(given(start), issued()).decision.outcome).toBe('ignored');
    });

    it('absorbs a duplicate, and revokes a second certificate for the same request', () => {
      expect(when(given(...happyUntil.installing), issued()).decision.outcome).toBe('ignored');
      const stray = when(given(...happyUntil.installing), issued('0ddba11'));
      expect(stray.sent('RevokeCertificate')[0]!.data).toMatchObject({ serialNumber: '0ddba11', requestedBy: 'issuance:compensation' });
      expect(stray.state.status).toBe('installing');
    });
  });

  describe('CertificateRejected', () => {
    it('destroys the generated key, awaits the agent, then fails with ca-rejected', () => {
      const compensating = when(given(...happyUntil.certificateIssuing), caRejected('csr-invalid'));
      expect(compensating.commands).toEqual(['DestroyTokenKey']);
      expect(compensating.state).toMatchObject({ status: 'compensating', failure: { code: 'ca-rejected', detail: 'csr-invalid: no' }, deadlineAt: new Date(T0 + 1_000 + AGENT_MS).toISOString() });
      expect(compensating.progress).toEqual([[5, 'compensating']]);
      const failed = when(compensating.state, destroyed(), 2_000);
      expect(failed.commands).toEqual(['HardwareKeyRequestFailed']);
      expect(failed.state).toMatchObject({ status: 'failed', unconfirmed: [] });
      expect(failed.progress).toEqual([[6, 'failed']]);
    });

    it.each([
      ['base-certificate-revoked', 'ca-rejected'],
      ['base-certificate-expired', 'ca-rejected'],
      ['authorization-expired', 'ca-rejected'],
      ['window-exceeds-cap', 'ca-rejected'],
    ] as const)('maps %s to %s, naming the CA\'s code in the detail', (caCode, code) => {
      expect(when(given(...happyUntil.certificateIssuing), caRejected(caCode)).state).toMatchObject({ failure: { code, detail: `${caCode}: no` } });
    });

    it('ignores a rejection in installing (out of order)', () => {
      expect(when(given(...happyUntil.installing), caRejected()).decision.outcome).toBe('ignored');
    });
  });

  describe('TokenKeyDestroyed', () => {
    it('fails saying the private key could not be removed from the token, and why, when the agent reports it left behind', () => {
      const compensating = given(...happyUntil.certificateIssuing, caRejected('csr-invalid'));
      const failed = when(compensating, destroyedLeavingPrivateKey('token-pin-locked', 'the token PIN is locked'), 2_000);
      expect(failed.commands).toEqual(['HardwareKeyRequestFailed']);
      expect(failed.state).toMatchObject({ status: 'failed', failure: { code: 'ca-rejected' }, unconfirmed: [] });
      const detail = failed.sent('HardwareKeyRequestFailed')[0]!.data.detail;
      expect(detail).toBe('csr-invalid: no (the private key could not be removed from the token [token-pin-locked]: the token PIN is locked)');
      const progressed = failed.sent('HardwareKeyRequestProgressed').at(-1)!.data;
      expect(progressed).toMatchObject({ status: 'failed', failure: { code: 'ca-rejected', detail } });
    });

    it('keeps the detail as it was when the agent removed everything (no privateKeyRemaining)', () => {
      const failed = when(given(...happyUntil.certificateIssuing, caRejected('csr-invalid')), destroyed(), 2_000);
      expect(failed.sent('HardwareKeyRequestFailed')[0]!.data.detail).toBe('csr-invalid: no');
    });
  });

  describe('CertificateInstalled', () => {
    it('completes: announces the formed key with its certificate and the new key account', () => {
      const then = when(given(...happyUntil.installing), installed(), 9_000);
      expect(then.state).toMatchObject({ status: 'completed', deadlineAt: null });
      expect(then.sent('TemporaryHardwareKeyFormed')[0]!.data).toEqual({
        requestId: REQUEST_ID, userId: request.userId, baseKeyId: request.baseKeyId, keyAccountId: request.keyAccountId, token: request.token,
        tokenKeyId: KEY_ID, algorithm: 'EC-P256', certificate: certificate(), formedAt: new Date(T0 + 9_000).toISOString(),
      });
      expect(then.sent('HardwareKeyRequestProgressed')).toEqual([{
        message: 'HardwareKeyRequestProgressed',
        data: { requestId: REQUEST_ID, userId: request.userId, sequence: 7, status: 'completed', at: new Date(T0 + 9_000).toISOString(), keyId: request.keyAccountId, failure: null },
      }]);
    });

    it('walks every state in order with a gap-free progress sequence', () => {
      const all = [start, generated(), issued(), installed()].reduce<{ state: SagaState; progress: Array<readonly [number, string]> }>((acc, input) => {
        const r = when(acc.state, input);
        return { state: r.state, progress: [...acc.progress, ...r.progress] };
      }, { state: initialState, progress: [] });
      expect(all.progress).toEqual([
        [1, 'requested'], [2, 'key-generating'], [3, 'key-generated'], [4, 'certificate-issuing'],
        [5, 'certificate-issued'], [6, 'installing'], [7, 'completed'],
      ]);
      expect(all.state.status === 'completed' && all.state.steps.map((s) => s.state)).toEqual(all.progress.map(([, s]) => s));
    });

    it('absorbs a duplicate after completion', () => {
      expect(when(given(...happyUntil.installing, installed()), installed()).decision.outcome).toBe('ignored');
    });

    it('ignores an install before the certificate was ordered (out of order)', () => {
      expect(when(given(start), installed()).decision.outcome).toBe('ignored');
    });

    it('rejects an install report for another key or certificate', () => {
      expect(when(given(...happyUntil.installing), installed({ serial: 'ffff' })).decision.outcome).toBe('rejected');
      expect(when(given(...happyUntil.installing), installed({ keyId: 'ffff' })).decision.outcome).toBe('rejected');
    });
  });

  describe('CertificateInstallFailed', () => {
    it('undoes newest first: revokes the certificate, then destroys the key, then fails with install-failed', () => {
      const first = when(given(...happyUntil.installing), installFailed());
      expect(first.commands).toEqual(['RevokeCertificate']);
      expect(first.sent('RevokeCertificate')[0]!.data).toEqual({
        serialNumber: CERT_SERIAL, reason: 'cessationOfOperation', requestedBy: 'issuance:compensation', comment: `request ${REQUEST_ID}: install-failed`,
      });
      expect(first.state).toMatchObject({ status: 'compensating', awaiting: { kind: 'revoke-certificate' }, deadlineAt: new Date(T0 + 1_000 + CA_MS).toISOString() });

      const second = when(first.state, revoked(), 2_000);
      expect(second.commands).toEqual(['DestroyTokenKey']);
      expect(second.progress).toEqual([]);
      expect(second.state).toMatchObject({ status: 'compensating', awaiting: { kind: 'destroy-token-key' }, pending: [] });

      const third = when(second.state, destroyed(), 3_000);
      expect(third.commands).toEqual(['HardwareKeyRequestFailed']);
      expect(third.state).toMatchObject({ status: 'failed', failure: { code: 'install-failed', detail: 'read-back differs' }, unconfirmed: [] });
    });

    it.each([['token-absent', 'token-absent'], ['certificate-mismatch', 'install-failed'], ['token-error', 'install-failed']] as const)('maps %s to %s', (agentCode, code) => {
      expect(when(given(...happyUntil.installing), installFailed(agentCode)).state).toMatchObject({ failure: { code } });
    });

    it('recognises its certificate\'s revocation however the serial is spelled', () => {
      const state = given(...happyUntil.installing, installFailed());
      expect(when(state, revoked(`00${CERT_SERIAL.toUpperCase()}`)).commands).toEqual(['DestroyTokenKey']);
    });

    it('ignores a revocation of another certificate while awaiting its own', () => {
      const state = given(...happyUntil.installing, installFailed());
      expect(when(state, revoked('ffff')).decision.outcome).toBe('ignored');
      expect(when(state, destroyed()).decision.outcome).toBe('ignored'); // not awaited yet: the revoke comes first
    });
  });

  describe('DeadlineExpired', () => {
    it('does nothing before the deadline', () => {
      expect(when(given(start), deadline, AGENT_MS - 1).decision).toEqual({ outcome: 'ignored', reason: 'no deadline due' });
    });

    it('fails key generation with agent-timeout, sending DestroyTokenKey without waiting for the silent agent', () => {
      const then = when(given(start), deadline, AGENT_MS);
      expect(then.commands).toEqual(['DestroyTokenKey', 'HardwareKeyRequestFailed']);
      // The new PIN, sealed to the agent, lets it log in to destroy the private (CKA_PRIVATE) key.
      expect(then.sent('DestroyTokenKey')[0]!.data).toEqual({ requestId: REQUEST_ID, tokenSerial: SERIAL, reason: 'agent-timeout', sealedPin: NEW_PIN });
      expect(then.state).toMatchObject({ status: 'failed', failure: { code: 'agent-timeout' }, unconfirmed: ['destroy-token-key'] });
      expect(then.sent('HardwareKeyRequestFailed')[0]!.data.detail).toContain('removed when the signing agent is back online');
      expect(then.progress).toEqual([[3, 'compensating'], [4, 'failed']]);
    });

    it('fails certificate issuance with certificate-timeout and awaits the key\'s destruction', () => {
      const then = when(given(...happyUntil.certificateIssuing), deadline, CA_MS);
      expect(then.commands).toEqual(['DestroyTokenKey']);
      expect(then.state).toMatchObject({ status: 'compensating', failure: { code: 'certificate-timeout' }, awaiting: { kind: 'destroy-token-key' } });
      expect(when(then.state, destroyed(), CA_MS + 1).state).toMatchObject({ status: 'failed', unconfirmed: [] });
    });

    it('fails the install with agent-timeout: revokes (awaited), then destroys without waiting', () => {
      const first = when(given(...happyUntil.installing), deadline, AGENT_MS);
      expect(first.commands).toEqual(['RevokeCertificate']);
      const second = when(first.state, revoked(), AGENT_MS + 1);
      expect(second.commands).toEqual(['DestroyTokenKey', 'HardwareKeyRequestFailed']);
      expect(second.state).toMatchObject({ status: 'failed', failure: { code: 'agent-timeout' }, unconfirmed: ['destroy-token-key'] });
    });

    it('moves on when a compensation is not confirmed in time, and says so', () => {
      const revoking = given(...happyUntil.installing, installFailed());
      const destroying = when(revoking, deadline, 1_000 + CA_MS);
      expect(destroying.commands).toEqual(['DestroyTokenKey']);
      expect(destroying.state).toMatchObject({ status: 'compensating', unconfirmed: ['revoke-certificate'] });
      const failed = when(destroying.state, deadline, 1_000 + CA_MS + AGENT_MS);
      expect(failed.state).toMatchObject({ status: 'failed', unconfirmed: ['revoke-certificate', 'destroy-token-key'] });
      expect(failed.sent('HardwareKeyRequestFailed')[0]!.data.detail).toMatch(/removed when the signing agent.*revocation is not confirmed/);
    });

    it('ignores a deadline in a finished saga', () => {
      expect(when(given(...happyUntil.installing, installed()), deadline, 10 * AGENT_MS).decision.outcome).toBe('ignored');
      expect(when(given(start, atMs(deadline, AGENT_MS)), deadline, 10 * AGENT_MS).decision.outcome).toBe('ignored');
    });
  });

  describe('late replies', () => {
    const timedOut = () => given(start, atMs(deadline, AGENT_MS));

    it('destroys a key generated after the key-generation deadline, leaving the saga failed', () => {
      const state = timedOut();
      const then = when(state, generated(), AGENT_MS + 5_000);
      expect(then.decision.outcome).toBe('applied');
      expect(then.commands).toEqual(['DestroyTokenKey']);
      expect(then.sent('DestroyTokenKey')[0]!.data.reason).toBe('late-reply');
      expect(then.state).toBe(state);
      expect(then.progress).toEqual([]);
    });

    it('revokes a certificate issued after the CA deadline (while compensating and once failed)', () => {
      const compensating = given(...happyUntil.certificateIssuing, atMs(deadline, CA_MS));
      const late = when(compensating, issued(), CA_MS + 1);
      expect(late.commands).toEqual(['RevokeCertificate']);
      expect(late.state.status).toBe('compensating');
      const failed = given(...happyUntil.certificateIssuing, atMs(deadline, CA_MS), atMs(destroyed(), CA_MS + 1));
      expect(when(failed, issued(), CA_MS + 2).commands).toEqual(['RevokeCertificate']);
    });

    it.each([
      ['a generation failure', generationFailed('token-error')],
      ['a CA rejection', caRejected()],
      ['an install report', installed()],
      ['a key destruction', destroyed()],
      ['a revocation', revoked()],
    ])('ignores %s after the saga failed', (_name, input) => {
      expect(when(timedOut(), input, AGENT_MS + 5_000).decision.outcome).toBe('ignored');
    });

    it('ignores an install confirmed after the install deadline (the key and certificate are being removed)', () => {
      const state = given(...happyUntil.installing, atMs(deadline, AGENT_MS + 1_000));
      expect(when(state, installed(), AGENT_MS + 2_000).decision.outcome).toBe('ignored');
    });
  });

  describe('an input for no saga', () => {
    it('is ignored', () => {
      expect(when(initialState, generated()).decision.outcome).toBe('ignored');
    });
  });

  describe('any sequence of inputs (property)', () => {
    const inputPool: SagaInput[] = [
      generated(), generated({ keyId: 'beef' }), generated({ algorithm: 'RSA-2048' }), generated({ agentId: 'other-agent' }),
      generationFailed('pin-policy'), generationFailed('token-error'),
      issued(), issued('0ddba11'), issued(CERT_SERIAL, '2030-01-01T00:00:00.000Z'), caRejected(),
      installed(), installed({ serial: 'ffff' }), installFailed(),
      destroyed(), destroyedLeavingPrivateKey('wrong-token-password', 'the current token password is wrong'), revoked(), revoked('0ddba11'), deadline, deadline, deadline,
    ];

    it('keeps its promises: gap-free progress, terminal states final, one closing event, nothing left uncompensated', () => {
      fc.assert(fc.property(fc.array(fc.constantFrom(...inputPool), { maxLength: 25 }), (inputs) => {
        let state = given(start);
        const sent: Outbound[] = [...react(initialState, start, ctxAt(0)).send];
        const seenKeys = new Set<string>();
        const seenCerts = new Set<string>();
        let clock = 0;
        for (const input of inputs) {
          clock += 60_000;
          const before = state.status;
          const r = react(state, input, ctxAt(clock));
          if (r.decision.outcome === 'rejected') expect(r.state).toBe(state);
          if (before === 'completed' || before === 'failed') expect(r.state.status).toBe(before);
          if (r.decision.outcome === 'applied' && input.type === 'TokenKeyGenerated') seenKeys.add(input.data.keyId);
          if (r.decision.outcome === 'applied' && input.type === 'CertificateIssued') seenCerts.add(input.data.certificate.serialNumber);
          state = r.state;
          sent.push(...r.send);
        }
        const progress = sent.flatMap((m) => (m.message === 'HardwareKeyRequestProgressed' ? [m.data.sequence] : []));
        expect(progress).toEqual(progress.map((_, i) => i + 1));
        const count = (name: Outbound['message']) => sent.filter((m) => m.message === name).length;
        expect(count('HardwareKeyRequestFailed')).toBe(state.status === 'failed' ? 1 : 0);
        expect(count('TemporaryHardwareKeyFormed')).toBe(state.status === 'completed' ? 1 : 0);
        if (state.status === 'failed') {
          const revokedSerials = new Set(sent.flatMap((m) => (m.message === 'RevokeCertificate' ? [m.data.serialNumber] : [])));
          for (const serial of seenCerts) expect(revokedSerials.has(serial)).toBe(true);
          if (seenKeys.size > 0) expect(count('DestroyTokenKey')).toBeGreaterThan(0);
        }
        if (state.status === 'completed') expect(count('DestroyTokenKey')).toBe(0);
      }), { numRuns: 3_000 });
    });
  });

  describe('an input the saga does not know', () => {
    it('names only its type in the error, never what it carries (states and inputs hold sealed PINs)', () => {
      const bogus = { type: 'Bogus', sealedNewPin: 'eyJhbGciOiJFQ0RILUVTIn0.secret-sealed-pin', authorization: 'eyJhbGciOiJFUzI1NiJ9.secret-jws' };
      let message = '';
      try { react(given(...happyUntil.keyGenerating), bogus as unknown as SagaInput, ctxAt()); } catch (error) { message = (error as Error).message; }
      expect(message).toContain('"Bogus"');
      expect(message).not.toContain('secret');
    });
  });
});
