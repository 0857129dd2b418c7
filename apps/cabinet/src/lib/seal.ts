// Seals a password to the token agent's public key before it leaves the page: compact JWE,
// ECDH-ES key agreement, A256GCM content encryption. Only the agent holds the private key.
import { CompactEncrypt, importJWK } from 'jose';
import type { AgentKey } from '../api/types.js';

export class SealError extends Error {
  constructor(readonly code: 'insecure-context' | 'seal-failed', message: string) {
    super(message);
    this.name = 'SealError';
  }
}

export async function sealPassword(agentKey: AgentKey, password: string): Promise<string> {
  if (!globalThis.crypto?.subtle) throw new SealError('insecure-context', 'WebCrypto is not available (the page is not in a secure context)');
  try {
    const key = await importJWK({ kty: agentKey.kty, crv: agentKey.crv, x: agentKey.x, y: agentKey.y }, 'ECDH-ES');
    return await new CompactEncrypt(new TextEncoder().encode(password))
      .setProtectedHeader({ alg: 'ECDH-ES', enc: 'A256GCM', ...(agentKey.kid ? { kid: agentKey.kid } : {}) })
      .encrypt(key);
  } catch (error) {
    throw new SealError('seal-failed', (error as Error).message);
  }
}
