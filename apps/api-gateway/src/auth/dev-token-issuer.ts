import { randomUUID } from 'node:crypto';
import { generateKeyPair, SignJWT, type CryptoKey } from 'jose';
import type { GatewayConfig } from '../config.js';

export const DEV_KEY_ID = 'thk-dev-session';

/** The key that signs (and verifies) development sessions. */
export interface DevSigningKey {
  kid: string;
  alg: 'HS256' | 'ES256';
  signKey: CryptoKey | Uint8Array;
  verifyKey: CryptoKey | Uint8Array;
}

export async function createDevSigningKey(secret: string | null): Promise<DevSigningKey> {
  if (secret) {
    const bytes = new TextEncoder().encode(secret);
    return { kid: DEV_KEY_ID, alg: 'HS256', signKey: bytes, verifyKey: bytes };
  }
  // Generated per process: sessions end when the gateway restarts (set DEV_AUTH_SECRET to share among replicas).
  const { privateKey, publicKey } = await generateKeyPair('ES256');
  return { kid: DEV_KEY_ID, alg: 'ES256', signKey: privateKey, verifyKey: publicKey };
}

/** Development mode only: the gateway plays the identity provider for `POST /v1/dev/session`. */
export class DevTokenIssuer {
  constructor(
    private readonly key: DevSigningKey,
    private readonly auth: GatewayConfig['auth'],
    private readonly now: () => Date,
  ) {}

  async issue(userId: string): Promise<{ accessToken: string; expiresAt: string }> {
    const iat = Math.floor(this.now().getTime() / 1_000);
    const exp = iat + this.auth.devTokenTtlSeconds;
    const accessToken = await new SignJWT({ [this.auth.userClaim]: userId })
      .setProtectedHeader({ alg: this.key.alg, kid: this.key.kid, typ: 'JWT' })
      .setIssuer(this.auth.issuer)
      .setAudience(this.auth.audience)
      .setSubject(userId)
      .setIssuedAt(iat)
      .setExpirationTime(exp)
      .setJti(randomUUID())
      .sign(this.key.signKey);
    return { accessToken, expiresAt: new Date(exp * 1_000).toISOString() };
  }
}
