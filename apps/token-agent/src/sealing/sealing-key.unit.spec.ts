import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CompactEncrypt, importJWK } from 'jose';
import { sealingJwk } from '@thk/contracts';
import { sealPin } from '../testing/agent-test-kit.js';
import { SEALING_KEY_FILE, SealingKey } from './sealing-key.js';

describe('SealingKey', () => {
  let dir: string;
  beforeEach(async () => { dir = await mkdtemp(join(tmpdir(), 'thk-sealing-')); });
  afterEach(async () => { await rm(dir, { recursive: true, force: true }); });

  describe('loadOrCreate', () => {
    it('creates a P-256 pair on first start, keeps the private part in a 0600 file, and loads the same key later', async () => {
      const created = await SealingKey.loadOrCreate(dir);
      expect(sealingJwk.safeParse(created.publicJwk).success).toBe(true);
      expect(created.publicJwk).not.toHaveProperty('d');
      expect(((await stat(join(dir, SEALING_KEY_FILE))).mode & 0o777).toString(8)).toBe('600');
      expect(((await stat(dir)).mode & 0o777).toString(8)).toBe('700');
      expect((await SealingKey.loadOrCreate(dir)).publicJwk).toEqual(created.publicJwk);
    });
  });

  describe('unseal', () => {
    it('opens a PIN sealed to its public key (ECDH-ES, A256GCM)', async () => {
      const key = await SealingKey.loadOrCreate(dir);
      await expect(key.unseal(await sealPin(key.publicJwk, 'пін-код-1'))).resolves.toBe('пін-код-1');
    });

    it('answers sealed-password-invalid for another agent\'s key, a damaged JWE, or another algorithm, never echoing the content', async () => {
      const key = await SealingKey.loadOrCreate(dir);
      const other = await SealingKey.loadOrCreate(join(dir, 'other'));
      const sealed = await sealPin(key.publicJwk, 'secret-pin-1');
      const [h, ek, iv, ct, tag] = sealed.split('.');
      const kw = await new CompactEncrypt(new TextEncoder().encode('secret-pin-1')).setProtectedHeader({ alg: 'ECDH-ES+A256KW', enc: 'A256GCM' })
        .encrypt(await importJWK({ ...key.publicJwk, alg: undefined }, 'ECDH-ES+A256KW'));
      for (const bad of [await sealPin(other.publicJwk, 'secret-pin-1'), [h, ek, iv, `${ct}AA`, tag].join('.'), kw]) {
        const error = await key.unseal(bad).catch((e: unknown) => e);
        expect(error).toMatchObject({ code: 'sealed-password-invalid', retryable: false });
        expect(JSON.stringify(error) + (error as Error).message).not.toContain('secret-pin-1');
      }
    });
  });
});
