import { chmod, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { createPrivateKey, type KeyObject } from 'node:crypto';
import { calculateJwkThumbprint, exportJWK, generateKeyPair, type JWK } from 'jose';
import type { SealingJwk } from '@thk/contracts';
import { AppError, type Logger } from '@thk/core';
import { ensureStateDir, writeFileAtomic } from '../state/atomic-file.js';
import { openEcdhEsA256Gcm } from './ecdh-es-jwe.js';

export const SEALING_KEY_FILE = 'sealing-key.jwk.json';

interface StoredKey { jwk: JWK & { d: string }; createdAt: string }

/**
 * The agent's P-256 key pair that PINs are sealed to (compact JWE, ECDH-ES + A256GCM). Created on
 * first start; the private JWK lives only in a 0600 file in the state directory. The public part
 * travels in every inventory report, so the cabinet can seal a new token password to this agent.
 */
export class SealingKey {
  private constructor(private readonly privateKey: KeyObject, readonly publicJwk: SealingJwk, readonly createdAt: string) {}

  static async loadOrCreate(stateDir: string, options: { now?: () => Date; logger?: Logger } = {}): Promise<SealingKey> {
    await ensureStateDir(stateDir);
    const file = join(stateDir, SEALING_KEY_FILE);
    let stored: StoredKey | undefined;
    try {
      const info = await stat(file);
      if ((info.mode & 0o077) !== 0) {
        // Another account could have read it; tighten now and say so, but keep the agent's identity.
        options.logger?.warn({ file, mode: (info.mode & 0o777).toString(8) }, 'sealing key file was readable by others; set to 0600');
        await chmod(file, 0o600);
      }
      stored = JSON.parse(await readFile(file, 'utf8')) as StoredKey;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') {
        throw new AppError('agent.sealing-key-unreadable', `cannot read ${file}: ${(error as Error).message}`);
      }
    }
    if (!stored) {
      const pair = await generateKeyPair('ECDH-ES', { crv: 'P-256', extractable: true });
      const jwk = await exportJWK(pair.privateKey) as JWK & { d: string };
      stored = { jwk: { kty: jwk.kty, crv: jwk.crv, x: jwk.x, y: jwk.y, d: jwk.d }, createdAt: (options.now?.() ?? new Date()).toISOString() };
      await writeFileAtomic(file, JSON.stringify(stored, null, 2), 0o600);
      options.logger?.info({ file }, 'created the sealing key pair');
    }
    const { kty, crv, x, y } = stored.jwk;
    if (kty !== 'EC' || crv !== 'P-256' || !x || !y || !stored.jwk.d) throw new AppError('agent.sealing-key-unreadable', `${file} does not hold a P-256 private JWK`);
    const kid = await calculateJwkThumbprint({ kty, crv, x, y });
    let privateKey: KeyObject;
    try {
      privateKey = createPrivateKey({ key: { kty, crv, x, y, d: stored.jwk.d }, format: 'jwk' });
    } catch (error) {
      throw new AppError('agent.sealing-key-unreadable', `${file} does not hold a usable P-256 private key (${(error as Error).message})`);
    }
    return new SealingKey(privateKey, { kty: 'EC', crv: 'P-256', x, y, kid, alg: 'ECDH-ES', use: 'enc' }, stored.createdAt);
  }

  /**
   * Opens a sealed PIN (synchronously: `openEcdhEsA256Gcm` says why). Only ECDH-ES with A256GCM is
   * accepted. Any failure (another agent's key, a tampered or truncated JWE, a non-text payload) is
   * `sealed-password-invalid`; the message never carries the plaintext.
   */
  async unseal(jwe: string, what = 'password'): Promise<string> {
    try {
      const plaintext = openEcdhEsA256Gcm(jwe, this.privateKey);
      const text = new TextDecoder('utf-8', { fatal: true }).decode(plaintext);
      plaintext.fill(0);
      if (text.length === 0) throw new Error('empty');
      return text;
    } catch {
      throw new AppError('sealed-password-invalid', `the sealed ${what} cannot be opened with this agent's key (sealed to another key, or damaged)`);
    }
  }
}
