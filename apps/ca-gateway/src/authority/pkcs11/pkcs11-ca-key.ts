import { randomBytes } from 'node:crypto';
import { AppError, type Logger } from '@thk/core';
import { Pkcs11Module, type Handle, type TokenSession } from '@thk/pkcs11';
import { ALGORITHM_IDENTIFIER, ecdsaP1363ToDer, type Bytes, type X509Signer } from '@thk/pki';
import type { Pkcs11CaKeyConfig } from '../../config/ca-gateway.config.js';
import type { ExternalCaKey } from '../built-in/built-in-ca.js';

/**
 * The CA key in a PKCS#11 token: generated there at first start (P-256, token object, private,
 * sensitive, never extractable, sign only), found by its label afterwards. Signing hashes on the
 * host and signs the digest (`CKM_ECDSA`) or lets the token hash (`CKM_ECDSA_SHA256`). A session
 * serves one operation at a time, so signatures go through a small pool of sessions (the login is
 * shared by all sessions of the application on the token).
 */
export class Pkcs11CaKey implements ExternalCaKey {
  readonly storage = 'pkcs11' as const;
  private privateKey: Handle | null = null;
  private readonly idle: TokenSession[];
  private readonly waiting: Array<(s: TokenSession) => void> = [];

  private constructor(private readonly module: Pkcs11Module, private readonly sessions: TokenSession[], readonly label: string, private readonly log: Logger) {
    this.idle = [...sessions];
  }

  static open(config: Pkcs11CaKeyConfig, log: Logger, poolSize = 4): Pkcs11CaKey {
    const module = Pkcs11Module.open(config.module);
    const sessions: TokenSession[] = [];
    try {
      const token = module.tokens().find((t) => t.label === config.tokenLabel);
      if (!token) throw new AppError('config.invalid', `no initialised PKCS#11 token labelled "${config.tokenLabel}" in ${config.module}`);
      for (let i = 0; i < poolSize; i++) sessions.push(module.openSession(token.slotId));
      sessions[0]!.login(config.pin);
      log.info({ token: token.label, serial: token.serial, sessions: poolSize }, 'CA key token opened');
      return new Pkcs11CaKey(module, sessions, config.keyLabel, log);
    } catch (error) {
      for (const s of sessions) s.close();
      module.close();
      throw error;
    }
  }

  async ensureKeyPair(): Promise<Bytes> {
    const session = this.sessions[0]!;
    const privateKeys = session.findObjects({ class: 'private-key', label: this.label });
    const publicKeys = session.findObjects({ class: 'public-key', label: this.label });
    if (privateKeys.length > 1 || publicKeys.length > 1) throw new AppError('config.invalid', `several keys are labelled "${this.label}" in the CA token`);
    if (privateKeys[0] && publicKeys[0]) {
      this.privateKey = privateKeys[0];
      return this.spkiOf(session, publicKeys[0]);
    }
    if (privateKeys[0] || publicKeys[0]) throw new AppError('config.invalid', `the CA token holds half a key pair labelled "${this.label}"`);
    const pair = await session.generateKeyPair({ algorithm: 'EC-P256', id: randomBytes(16), label: this.label });
    this.privateKey = pair.privateKey;
    this.log.warn({ label: this.label }, 'generated the CA key pair in the PKCS#11 token');
    return this.spkiOf(session, pair.publicKey);
  }

  signer(): X509Signer {
    return {
      algorithm: ALGORITHM_IDENTIFIER.ecdsaWithSha256,
      sign: async (data) => {
        if (!this.privateKey) throw new AppError('ca.key-unavailable', 'the CA key was not loaded from the token');
        const session = await this.acquire();
        try {
          return ecdsaP1363ToDer(await session.sign(this.privateKey, 'EC-P256', Buffer.from(data)));
        } finally {
          this.release(session);
        }
      },
    };
  }

  async close(): Promise<void> {
    for (const s of this.sessions) s.close();
    this.module.close();
  }

  private spkiOf(session: TokenSession, publicKey: Handle): Bytes {
    const { algorithm, spki } = session.readPublicKey(publicKey);
    if (algorithm !== 'EC-P256') throw new AppError('config.invalid', 'the CA key in the token must be ECDSA P-256');
    return new Uint8Array(spki);
  }

  private acquire(): Promise<TokenSession> {
    const s = this.idle.pop();
    return s ? Promise.resolve(s) : new Promise((resolve) => this.waiting.push(resolve));
  }

  private release(session: TokenSession): void {
    const next = this.waiting.shift();
    if (next) next(session);
    else this.idle.push(session);
  }
}
