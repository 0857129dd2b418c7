import { createPublicKey, type KeyObject } from 'node:crypto';
import {
  createRemoteJWKSet, errors as joseErrors, jwtVerify, type JWSHeaderParameters, type FlattenedJWSInput, type CryptoKey,
} from 'jose';
import { uuid } from '@thk/contracts';
import type { GatewayConfig } from '../config.js';
import { httpError } from '../http/problem.js';
import type { DevSigningKey } from './dev-token-issuer.js';

export interface AuthenticatedUser {
  userId: string;
}

type VerifyKey = CryptoKey | KeyObject | Uint8Array;

interface Verified { user: AuthenticatedUser; notBeforeMs: number; expiresMs: number; cachedUntilMs: number }

/** Tokens kept verified (by their exact text) so that a user's next calls skip the signature check. */
const CACHE_SIZE = 10_000;
/** A key withdrawn from the JWKS stops a cached token within this time (or at its expiry, if sooner). */
const CACHE_TTL_MS = 5 * 60_000;

/**
 * Verifies bearer JWTs: signature (JWKS URL and/or PEM key, plus the dev session key in dev
 * mode), issuer, audience, expiry and not-before (with a small clock tolerance). Every refusal
 * is `401 unauthenticated`; the reason is not told to the caller beyond "invalid or expired".
 */
export class Authenticator {
  private readonly jwks: ReturnType<typeof createRemoteJWKSet> | null;
  private readonly pem: KeyObject | null;
  private readonly algorithms: string[];
  private readonly verified = new Map<string, Verified>();

  constructor(
    private readonly auth: GatewayConfig['auth'],
    private readonly now: () => Date,
    private readonly devKey: DevSigningKey | null,
  ) {
    this.jwks = auth.jwksUrl ? createRemoteJWKSet(new URL(auth.jwksUrl), { timeoutDuration: 5_000, cooldownDuration: 30_000 }) : null;
    this.pem = auth.publicKeyPem ? createPublicKey(auth.publicKeyPem) : null;
    this.algorithms = [...auth.algorithms, ...(devKey ? [devKey.alg] : [])];
  }

  /** The user behind an `Authorization` header value. */
  async authenticate(header: string | undefined): Promise<AuthenticatedUser> {
    const match = header ? /^Bearer ([A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+)$/.exec(header.trim()) : null;
    if (!match) throw httpError('unauthenticated', 'a bearer token is required');
    const token = match[1]!;
    const nowMs = this.now().getTime();
    const cached = this.fromCache(token, nowMs);
    if (cached) return cached;
    let payload: Record<string, unknown>;
    try {
      ({ payload } = await jwtVerify(token, (h, t) => this.keyFor(h, t), {
        issuer: this.auth.issuer,
        audience: this.auth.audience,
        algorithms: this.algorithms,
        clockTolerance: this.auth.clockToleranceSeconds,
        currentDate: this.now(),
        requiredClaims: ['exp'],
      }));
    } catch (error) {
      const expired = error instanceof joseErrors.JWTExpired;
      throw httpError('unauthenticated', expired ? 'the bearer token has expired' : 'the bearer token is not valid');
    }
    const userId = uuid.safeParse(payload[this.auth.userClaim]);
    if (!userId.success) throw httpError('unauthenticated', 'the bearer token names no user');
    const user = { userId: userId.data };
    this.remember(token, user, payload, nowMs);
    return user;
  }

  /**
   * A token verified before: the same text is the same signature over the same claims, so only
   * the time window needs checking again. The signature check (WebCrypto) is the gateway's
   * largest per-call CPU cost without this.
   */
  private fromCache(token: string, nowMs: number): AuthenticatedUser | undefined {
    const hit = this.verified.get(token);
    if (!hit) return undefined;
    const toleranceMs = this.auth.clockToleranceSeconds * 1_000;
    if (nowMs >= hit.cachedUntilMs || nowMs >= hit.expiresMs + toleranceMs || nowMs < hit.notBeforeMs - toleranceMs) {
      // Verify again from scratch: jose gives the precise refusal (expired, not yet valid).
      this.verified.delete(token);
      return undefined;
    }
    return hit.user;
  }

  private remember(token: string, user: AuthenticatedUser, payload: Record<string, unknown>, nowMs: number): void {
    const exp = typeof payload['exp'] === 'number' ? payload['exp'] * 1_000 : nowMs;
    const nbf = typeof payload['nbf'] === 'number' ? payload['nbf'] * 1_000 : 0;
    if (this.verified.size >= CACHE_SIZE) {
      const oldest = this.verified.keys().next().value;
      if (oldest !== undefined) this.verified.delete(oldest);
    }
    this.verified.set(token, { user, notBeforeMs: nbf, expiresMs: exp, cachedUntilMs: nowMs + CACHE_TTL_MS });
  }

  private async keyFor(header: JWSHeaderParameters, token: FlattenedJWSInput): Promise<VerifyKey> {
    if (this.devKey && header.kid === this.devKey.kid) {
      if (header.alg !== this.devKey.alg) throw new joseErrors.JOSEAlgNotAllowed('unexpected algorithm for the dev key');
      return this.devKey.verifyKey;
    }
    // A symmetric algorithm is accepted only with the dev key: a public key must never double as an HMAC secret.
    if (header.alg?.startsWith('HS')) throw new joseErrors.JOSEAlgNotAllowed('symmetric algorithms are not accepted');
    if (this.jwks) {
      try {
        return await this.jwks(header, token);
      } catch (error) {
        if (!this.pem || !(error instanceof joseErrors.JWKSNoMatchingKey)) throw error;
      }
    }
    if (this.pem) return this.pem;
    throw new joseErrors.JWKSNoMatchingKey();
  }
}
