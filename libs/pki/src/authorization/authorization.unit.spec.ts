import { generateKeyPairSync, randomUUID, sign } from 'node:crypto';
import { CompactSign, compactVerify } from 'jose';
import { AppError } from '@thk/core';
import { createTestCa, issueTestCertificate, type TestCa, type TestKeyWithCertificate } from '../testing/test-pki.js';
import { parseCertificate } from '../x509/certificate.js';
import { AuthorizationVerifier, signAuthorization, signCompactEs256, verifyAuthorization, type AuthorizationClaims } from './authorization.js';

const NOW = new Date('2026-03-01T10:00:00Z');

function claims(overrides: Partial<AuthorizationClaims> = {}): Omit<AuthorizationClaims, 'iat' | 'exp'> {
  return {
    sub: randomUUID(), jti: randomUUID(), baseKeyId: randomUUID(), tokenSerial: '220771', validity: 'P1W',
    notAfterCap: '2026-06-01T00:00:00.000Z', ...overrides,
  };
}

async function codeOf(promise: Promise<unknown>): Promise<string> {
  try {
    await promise;
    return 'accepted';
  } catch (error) {
    expect(error).toBeInstanceOf(AppError);
    return (error as AppError).code;
  }
}

/** Signs whatever header and payload we ask for (jose would refuse to sign some of them). */
async function signRaw(payload: object, header: Record<string, unknown>, key = base.privateKey): Promise<string> {
  const b64 = (v: object) => Buffer.from(JSON.stringify(v)).toString('base64url');
  const input = `${b64({ alg: 'ES256', ...header })}.${b64(payload)}`;
  return `${input}.${sign('sha256', Buffer.from(input), { key, dsaEncoding: 'ieee-p1363' }).toString('base64url')}`;
}

let ca: TestCa;
let otherCa: TestCa;
let base: TestKeyWithCertificate;

beforeAll(async () => {
  ca = await createTestCa({ notBefore: new Date('2025-01-01T00:00:00Z'), notAfter: new Date('2035-01-01T00:00:00Z') });
  otherCa = await createTestCa({ commonName: 'THK Test CA' }); // same name, other key
  base = await issueTestCertificate(ca, { notBefore: new Date('2026-01-01T00:00:00Z'), notAfter: new Date('2027-01-01T00:00:00Z') });
});

const issuer = () => ({ subject: ca.subject, publicKey: ca.publicKey });

describe.each(['thread-pool', 'inline'] as const)('AuthorizationVerifier, the signature checked on the %s', (signature) => {
  describe('verify', () => {
    it('accepts an authorization signed by the base key of a certificate of this CA', async () => {
      const c = claims();
      const jws = await signAuthorization(c, { privateKey: base.privateKey, certificate: base.certificate, now: NOW });
      const verified = await verifyAuthorization(jws, { issuer: issuer(), signature, now: new Date(NOW.getTime() + 60_000) });
      expect(verified.claims).toMatchObject({ ...c, iat: NOW.getTime() / 1000, exp: NOW.getTime() / 1000 + 600 });
      expect(verified.baseCertificate.serialNumber).toBe(parseCertificate(base.certificate).serialNumber);
    });

    it('refuses an authorization signed by another key than the x5c one', async () => {
      const other = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
      const jws = await signAuthorization(claims(), { privateKey: other.privateKey, certificate: base.certificate, now: NOW });
      expect(await codeOf(verifyAuthorization(jws, { issuer: issuer(), signature, now: NOW }))).toBe('authorization-invalid');
    });

    it('refuses a base certificate of another CA (same name, other key)', async () => {
      const foreign = await issueTestCertificate(otherCa, { notBefore: new Date('2026-01-01T00:00:00Z'), notAfter: new Date('2027-01-01T00:00:00Z') });
      const jws = await signAuthorization(claims(), { privateKey: foreign.privateKey, certificate: foreign.certificate, now: NOW });
      expect(await codeOf(verifyAuthorization(jws, { issuer: issuer(), signature, now: NOW }))).toBe('base-certificate-untrusted');
    });

    it('refuses an expired authorization', async () => {
      const jws = await signAuthorization(claims(), { privateKey: base.privateKey, certificate: base.certificate, now: NOW, lifetimeSeconds: 60 });
      expect(await codeOf(verifyAuthorization(jws, { issuer: issuer(), signature, now: new Date(NOW.getTime() + 91_000) }))).toBe('authorization-expired');
    });

    it('refuses an authorization that lives longer than ten minutes', async () => {
      const iat = NOW.getTime() / 1000;
      const jws = await signRaw({ ...claims(), iat, exp: iat + 601 }, { x5c: [Buffer.from(base.certificate).toString('base64')] });
      expect(await codeOf(verifyAuthorization(jws, { issuer: issuer(), signature, now: NOW }))).toBe('authorization-invalid');
    });

    it('refuses an authorization issued in the future', async () => {
      const jws = await signAuthorization(claims(), { privateKey: base.privateKey, certificate: base.certificate, now: new Date(NOW.getTime() + 120_000) });
      expect(await codeOf(verifyAuthorization(jws, { issuer: issuer(), signature, now: NOW }))).toBe('authorization-invalid');
    });

    it('refuses when the base certificate is not valid now', async () => {
      const old = await issueTestCertificate(ca, { notBefore: new Date('2025-01-01T00:00:00Z'), notAfter: new Date('2026-02-01T00:00:00Z') });
      const jws = await signAuthorization(claims(), { privateKey: old.privateKey, certificate: old.certificate, now: NOW });
      expect(await codeOf(verifyAuthorization(jws, { issuer: issuer(), signature, now: NOW }))).toBe('base-certificate-expired');
    });

    it('refuses missing claims, other algorithms, missing or malformed x5c, and garbage', async () => {
      const x5c = [Buffer.from(base.certificate).toString('base64')];
      const iat = NOW.getTime() / 1000;
      const { jti: _jti, ...noJti } = { ...claims(), iat, exp: iat + 60 };
      const good = await signAuthorization(claims(), { privateKey: base.privateKey, certificate: base.certificate, now: NOW });
      const hs256 = await new CompactSign(new TextEncoder().encode('{}')).setProtectedHeader({ alg: 'HS256', x5c }).sign(new Uint8Array(32));
      const cases = [
        await signRaw(noJti, { x5c }),
        await signRaw({ ...claims(), iat, exp: iat + 60 }, {}),
        await signRaw({ ...claims(), iat, exp: iat + 60 }, { x5c: [x5c[0]!.slice(0, 100)] }),
        await signRaw({ ...claims(), iat, exp: iat + 60 }, { x5c: ['not base64!'] }),
        await signRaw({ ...claims(), iat, exp: iat + 60 }, { x5c, crit: ['exp'], exp: 1 }),
        hs256,
        good.slice(0, good.length - 10),
        good.split('.').slice(0, 2).join('.') + '.',
        'a.b.c',
        '',
      ];
      // The hand-made signer itself produces acceptable statements: each case fails for its own flaw.
      expect(await codeOf(verifyAuthorization(await signRaw({ ...claims(), iat, exp: iat + 60 }, { x5c }), { issuer: issuer(), signature, now: NOW }))).toBe('accepted');
      for (const jws of cases) expect(await codeOf(verifyAuthorization(jws, { issuer: issuer(), signature, now: NOW }))).toBe('authorization-invalid');
    });

    it('answers the same for a cached base certificate (the cache never widens trust)', async () => {
      const verifier = new AuthorizationVerifier({ issuer: issuer(), signature });
      const foreign = await issueTestCertificate(otherCa, { notBefore: new Date('2026-01-01T00:00:00Z'), notAfter: new Date('2027-01-01T00:00:00Z') });
      for (let i = 0; i < 2; i++) {
        const ok = await signAuthorization(claims(), { privateKey: base.privateKey, certificate: base.certificate, now: NOW });
        const bad = await signAuthorization(claims(), { privateKey: foreign.privateKey, certificate: foreign.certificate, now: NOW });
        expect(await codeOf(verifier.verify(ok, NOW))).toBe('accepted');
        expect(await codeOf(verifier.verify(bad, NOW))).toBe('base-certificate-untrusted');
      }
    });
  });

  describe('unverifiedBaseCertificate', () => {
    it('answers the x5c certificate without checking the signature or the issuer', async () => {
      const verifier = new AuthorizationVerifier({ issuer: issuer(), signature });
      const foreign = await issueTestCertificate(otherCa, { notBefore: new Date('2026-01-01T00:00:00Z'), notAfter: new Date('2027-01-01T00:00:00Z') });
      const other = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
      // Signed by another key than the x5c one, under a certificate of another CA: verify refuses it.
      const jws = await signAuthorization(claims(), { privateKey: other.privateKey, certificate: foreign.certificate, now: NOW });
      expect(verifier.unverifiedBaseCertificate(jws)?.serialNumber).toBe(parseCertificate(foreign.certificate).serialNumber);
      expect(await codeOf(verifier.verify(jws, NOW))).toBe('authorization-invalid');
      // Read first, verified next (the CA's order): the same answers as verify alone.
      const good = await signAuthorization(claims(), { privateKey: base.privateKey, certificate: base.certificate, now: NOW });
      expect(verifier.unverifiedBaseCertificate(good)?.serialNumber).toBe(parseCertificate(base.certificate).serialNumber);
      expect(await codeOf(verifier.verify(good, NOW))).toBe('accepted');
      const untrusted = await signAuthorization(claims(), { privateKey: foreign.privateKey, certificate: foreign.certificate, now: NOW });
      expect(verifier.unverifiedBaseCertificate(untrusted)).not.toBeNull();
      expect(await codeOf(verifier.verify(untrusted, NOW))).toBe('base-certificate-untrusted');
    });

    it('answers null when the header or its x5c cannot be read', async () => {
      const verifier = new AuthorizationVerifier({ issuer: issuer(), signature });
      const iat = NOW.getTime() / 1000;
      const cases = [
        await signRaw({ ...claims(), iat, exp: iat + 60 }, {}),
        await signRaw({ ...claims(), iat, exp: iat + 60 }, { x5c: [Buffer.from(base.certificate).toString('base64').slice(0, 100)] }),
        await signRaw({ ...claims(), iat, exp: iat + 60 }, { x5c: ['not base64!'] }),
        'a.b.c',
        '',
      ];
      for (const jws of cases) expect(verifier.unverifiedBaseCertificate(jws)).toBeNull();
    });
  });

  describe('signAuthorization', () => {
    it('refuses a lifetime beyond ten minutes', async () => {
      await expect(signAuthorization(claims(), { privateKey: base.privateKey, certificate: base.certificate, lifetimeSeconds: 601 })).rejects.toThrow(/600/);
    });
  });
});

describe('signCompactEs256', () => {
  const header = { alg: 'ES256' as const, typ: 'test+jwt', x5c: ['AAAA'] };
  const payload = new TextEncoder().encode(JSON.stringify({ sub: 'someone', n: 1 }));

  it('makes what jose verifies: the same header and payload, a signature by the key', async () => {
    const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const jws = signCompactEs256(header, payload, privateKey);
    const verified = await compactVerify(jws, publicKey);
    expect(verified.protectedHeader).toEqual(header);
    expect(Buffer.from(verified.payload)).toEqual(Buffer.from(payload));
    const other = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    await expect(compactVerify(jws, other.publicKey)).rejects.toThrow();
    // Two parts of the same shape as jose's own (only the signature differs: ECDSA is randomised).
    const jose = await new CompactSign(payload).setProtectedHeader(header).sign(privateKey);
    expect(jws.split('.').slice(0, 2)).toEqual(jose.split('.').slice(0, 2));
  });

  it('refuses a key that is not a P-256 private key', () => {
    expect(() => signCompactEs256(header, payload, generateKeyPairSync('ec', { namedCurve: 'P-384' }).privateKey)).toThrow(/P-256 private key/);
    expect(() => signCompactEs256(header, payload, generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey)).toThrow(/P-256 private key/);
    expect(() => signCompactEs256(header, payload, generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey)).toThrow(/P-256 private key/);
  });
});
