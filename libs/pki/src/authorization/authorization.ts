import { createHash, KeyObject, sign } from 'node:crypto';
import { CompactSign, compactVerify, decodeProtectedHeader } from 'jose';
import { z } from 'zod';
import { isoDateTime, tokenSerial, uuid, validityOption } from '@thk/contracts';
import { AppError } from '@thk/core';
import { bytesEqual } from '../der.js';
import { isP256Key, verifyEcdsaP256Sha256 } from '../signature/signature.js';
import { certificatePublicKey, parseCertificate, verifyCertificateSignature, type ParsedCertificate } from '../x509/certificate.js';

/** An authorization lives at most ten minutes (`exp - iat`). */
export const AUTHORIZATION_MAX_LIFETIME_SECONDS = 600;
export const AUTHORIZATION_TYP = 'thk-authorization+jwt';

/**
 * What the depository signs with the base (cloud) key when the user's password checked out: this
 * user (`sub`) may have a temporary key certified for this request (`jti`) on this token, with this
 * validity option, ending no later than `notAfterCap`.
 */
export const authorizationClaims = z.object({
  sub: uuid,
  jti: uuid,
  baseKeyId: uuid,
  tokenSerial,
  validity: validityOption,
  notAfterCap: isoDateTime,
  iat: z.number().int().nonnegative(),
  exp: z.number().int().positive(),
});
export type AuthorizationClaims = z.infer<typeof authorizationClaims>;

/** Rejection codes (the CA's `CertificateRejected` codes) that authorization checks answer. */
export type AuthorizationFailureCode = 'authorization-invalid' | 'authorization-expired' | 'base-certificate-untrusted' | 'base-certificate-expired';

function fail(code: AuthorizationFailureCode, message: string): never {
  throw new AppError(code, message, { retryable: false });
}

export interface SignAuthorizationOptions {
  /** The base key (ECDSA P-256): a WebCrypto key or a node KeyObject. */
  privateKey: CryptoKey | KeyObject;
  /** The base certificate (DER), sent in `x5c`. */
  certificate: Uint8Array;
  now?: Date;
  lifetimeSeconds?: number;
}

/** Signs an authorization as a compact JWS (ES256, `x5c` = [base certificate]). For the depository. */
export async function signAuthorization(claims: Omit<AuthorizationClaims, 'iat' | 'exp'>, options: SignAuthorizationOptions): Promise<string> {
  const lifetime = options.lifetimeSeconds ?? AUTHORIZATION_MAX_LIFETIME_SECONDS;
  if (lifetime <= 0 || lifetime > AUTHORIZATION_MAX_LIFETIME_SECONDS) throw new AppError('validation-failed', `an authorization lives 1..${AUTHORIZATION_MAX_LIFETIME_SECONDS} s`);
  const iat = Math.floor((options.now ?? new Date()).getTime() / 1000);
  const payload = new TextEncoder().encode(JSON.stringify(authorizationClaims.parse({ ...claims, iat, exp: iat + lifetime })));
  const header = { alg: 'ES256' as const, typ: AUTHORIZATION_TYP, x5c: [Buffer.from(options.certificate).toString('base64')] };
  if (options.privateKey instanceof KeyObject) return signCompactEs256(header, payload, options.privateKey);
  return new CompactSign(payload).setProtectedHeader(header).sign(options.privateKey);
}

/**
 * A compact JWS signed with ES256 (header and payload as given, the signature r‖s over
 * `header.payload`), as jose's `CompactSign` makes it, in one synchronous call: jose signs with
 * WebCrypto, a thread-pool job that took 2–3 ms right after the depository's KDF on a busy machine
 * (probes in the formation trace), for ~0.06 ms of work. The key must be a P-256 private key.
 */
export function signCompactEs256(protectedHeader: { alg: 'ES256' } & Record<string, unknown>, payload: Uint8Array, privateKey: KeyObject): string {
  if (privateKey.type !== 'private' || privateKey.asymmetricKeyType !== 'ec' || privateKey.asymmetricKeyDetails?.namedCurve !== 'prime256v1') {
    throw new TypeError('ES256 needs a P-256 private key');
  }
  const input = `${Buffer.from(JSON.stringify(protectedHeader)).toString('base64url')}.${Buffer.from(payload).toString('base64url')}`;
  return `${input}.${sign('sha256', Buffer.from(input, 'ascii'), { key: privateKey, dsaEncoding: 'ieee-p1363' }).toString('base64url')}`;
}

export interface AuthorizationIssuer {
  /** The issuing CA's subject Name (DER) and public key: the base certificate must be theirs. */
  subject: Uint8Array;
  publicKey: KeyObject;
}

export interface VerifiedAuthorization {
  claims: AuthorizationClaims;
  baseCertificate: ParsedCertificate;
}

export interface AuthorizationVerifierOptions {
  /** When set, the base certificate must be issued by it (name and signature). */
  issuer?: AuthorizationIssuer;
  maxLifetimeSeconds?: number;
  /** Allowed clock difference for `iat` in the future and `exp` (default 30 s). */
  clockToleranceSeconds?: number;
  /** Base certificates remembered (parsed, trust checked) between calls. */
  cacheSize?: number;
  /** Where the signature is checked by default; `verify` may choose per call (see `SignatureCheck`). */
  signature?: SignatureCheck;
}

/**
 * `thread-pool`: jose's `compactVerify` (WebCrypto, a thread-pool job: several checks at once use
 * several cores). `inline`: node:crypto on the calling thread (~0.1 ms, no hop: less latency when
 * one check runs alone). Both refuse and accept exactly the same statements.
 */
export type SignatureCheck = 'thread-pool' | 'inline';

interface CachedCertificate { cert: ParsedCertificate; key: KeyObject; trusted: boolean }

type ProtectedHeader = ReturnType<typeof decodeProtectedHeader>;

/**
 * Verifies authorization statements: the JWS is ES256 by the key of its `x5c` certificate, its
 * claims are complete, it lives at most ten minutes and has not expired, the certificate was
 * issued by the configured issuer and is valid now. The issuer's signature does not make the
 * certificate a base certificate: every certificate that issuer signs verifies (temporary keys'
 * own, whose keys their users hold, included). The caller must find the base certificate in its
 * registry as a cloud-key certificate of `claims.baseKeyId` and `claims.sub`, not revoked, and
 * check `jti` uniqueness and the match with the request (they need its registry).
 * Every failure is an AppError with one of `AuthorizationFailureCode`; nothing else is thrown.
 */
export class AuthorizationVerifier {
  private readonly cache = new Map<string, CachedCertificate>();

  constructor(private readonly options: AuthorizationVerifierOptions = {}) {}

  async verify(jws: string, now: Date, options: { signature?: SignatureCheck } = {}): Promise<VerifiedAuthorization> {
    const header = protectedHeader(jws);
    if (header.alg !== 'ES256') fail('authorization-invalid', 'the authorization must be signed with ES256');
    if (header.crit !== undefined) fail('authorization-invalid', 'the authorization has critical header parameters');
    const base = this.certificate(x5cOf(header));
    let payload: Uint8Array | null;
    if ((options.signature ?? this.options.signature ?? 'thread-pool') === 'inline') {
      payload = verifyCompactEs256Inline(jws, base.key);
    } else {
      try {
        ({ payload } = await compactVerify(jws, base.key, { algorithms: ['ES256'] }));
      } catch {
        payload = null;
      }
    }
    if (!payload) return fail('authorization-invalid', 'the authorization signature does not verify with the key of its x5c certificate');
    let json: unknown;
    try {
      json = JSON.parse(new TextDecoder().decode(payload));
    } catch {
      return fail('authorization-invalid', 'the authorization payload is not JSON');
    }
    const parsed = authorizationClaims.safeParse(json);
    if (!parsed.success) return fail('authorization-invalid', `the authorization claims are incomplete: ${parsed.error.issues[0]?.path.join('.')}`);
    const claims = parsed.data;
    const maxLifetime = this.options.maxLifetimeSeconds ?? AUTHORIZATION_MAX_LIFETIME_SECONDS;
    if (claims.exp <= claims.iat || claims.exp - claims.iat > maxLifetime) fail('authorization-invalid', `an authorization must expire within ${maxLifetime} s of its issue`);
    if (this.options.issuer && !base.trusted) fail('base-certificate-untrusted', 'the base certificate was not issued by this CA');
    const tolerance = this.options.clockToleranceSeconds ?? 30;
    const nowSeconds = now.getTime() / 1000;
    if (claims.iat > nowSeconds + tolerance) fail('authorization-invalid', 'the authorization was issued in the future');
    if (nowSeconds >= claims.exp + tolerance) fail('authorization-expired', 'the authorization has expired');
    if (now < base.cert.notBefore || now > base.cert.notAfter) fail('base-certificate-expired', 'the base certificate is not valid now');
    return { claims, baseCertificate: base.cert };
  }

  /**
   * The authorization's x5c certificate as sent, parsed but trusted in nothing: neither the JWS
   * signature nor the issuer has been checked, so it is fit only for work that `verify` must confirm
   * anyway (the CA starts its registry lookup by its serial while `verify` waits on the thread pool).
   * Null when the header or its x5c is unreadable or not a P-256 certificate (`verify` refuses those).
   */
  unverifiedBaseCertificate(jws: string): ParsedCertificate | null {
    try {
      return this.certificate(x5cOf(protectedHeader(jws))).cert;
    } catch (error) {
      if (error instanceof AppError) return null;
      throw error;
    }
  }

  private certificate(x5c: string): CachedCertificate {
    const cacheKey = createHash('sha256').update(x5c).digest('base64');
    const hit = this.cache.get(cacheKey);
    if (hit) return hit;
    if (!/^[A-Za-z0-9+/]+={0,2}$/.test(x5c)) fail('authorization-invalid', 'the x5c certificate is not base64');
    let cert: ParsedCertificate;
    let key: KeyObject;
    try {
      cert = parseCertificate(new Uint8Array(Buffer.from(x5c, 'base64')));
      key = certificatePublicKey(cert);
    } catch {
      return fail('authorization-invalid', 'the x5c certificate is malformed');
    }
    if (!isP256Key(key)) fail('authorization-invalid', 'the base certificate key is not ECDSA P-256');
    const issuer = this.options.issuer;
    const trusted = !!issuer && bytesEqual(cert.issuer, issuer.subject) && verifyCertificateSignature(cert, issuer.publicKey);
    const entry = { cert, key, trusted };
    const max = this.options.cacheSize ?? 10_000;
    if (this.cache.size >= max) this.cache.delete(this.cache.keys().next().value!);
    this.cache.set(cacheKey, entry);
    return entry;
  }
}

function protectedHeader(jws: string): ProtectedHeader {
  try {
    return decodeProtectedHeader(jws);
  } catch {
    return fail('authorization-invalid', 'the authorization is not a readable JWS');
  }
}

function x5cOf(header: ProtectedHeader): string {
  const x5c = header.x5c;
  if (!Array.isArray(x5c) || x5c.length === 0 || typeof x5c[0] !== 'string' || x5c[0].length > 16_384) fail('authorization-invalid', 'the authorization carries no x5c certificate');
  return x5c[0];
}

const BASE64URL = /^[A-Za-z0-9_-]+$/;

/**
 * A compact ES256 JWS checked as `compactVerify` does once its header passed `verify`'s checks (alg
 * ES256, no crit, hence `b64` ignored as jose ignores it without crit): three parts, the signature
 * r‖s over `header.payload`. The payload, or null when it does not verify.
 */
function verifyCompactEs256Inline(jws: string, key: KeyObject): Uint8Array | null {
  const parts = jws.split('.');
  if (parts.length !== 3 || !BASE64URL.test(parts[1]!) || !BASE64URL.test(parts[2]!)) return null;
  const ok = verifyEcdsaP256Sha256(key, Buffer.from(`${parts[0]}.${parts[1]}`, 'ascii'), Buffer.from(parts[2]!, 'base64url'), 'p1363');
  return ok ? new Uint8Array(Buffer.from(parts[1]!, 'base64url')) : null;
}

/** One-off verification (no cache); see `AuthorizationVerifier`. */
export function verifyAuthorization(jws: string, options: AuthorizationVerifierOptions & { now: Date }): Promise<VerifiedAuthorization> {
  return new AuthorizationVerifier(options).verify(jws, options.now);
}
