import { compactDecrypt, decodeProtectedHeader, exportJWK, generateKeyPair } from 'jose';
import type { AgentKey } from '../api/types.js';
import { sealPassword } from './seal.js';

describe('sealPassword', () => {
  it('produces a compact JWE (ECDH-ES, A256GCM) that only the agent key opens', async () => {
    const { publicKey, privateKey } = await generateKeyPair('ECDH-ES', { crv: 'P-256' });
    const jwk = { ...(await exportJWK(publicKey)), kid: 'agent-1', alg: 'ECDH-ES', use: 'enc' } as AgentKey;
    const jwe = await sealPassword(jwk, 'Нов1й-пароль');
    expect(jwe.split('.')).toHaveLength(5);
    expect(jwe).not.toContain('пароль');
    expect(decodeProtectedHeader(jwe)).toMatchObject({ alg: 'ECDH-ES', enc: 'A256GCM', kid: 'agent-1' });
    const { plaintext } = await compactDecrypt(jwe, privateKey);
    expect(new TextDecoder().decode(plaintext)).toBe('Нов1й-пароль');
  });

  it('seals the same password differently each time (fresh ephemeral key)', async () => {
    const { publicKey } = await generateKeyPair('ECDH-ES', { crv: 'P-256' });
    const jwk = (await exportJWK(publicKey)) as AgentKey;
    expect(await sealPassword(jwk, '123456')).not.toBe(await sealPassword(jwk, '123456'));
  });

  it('refuses a key that is not a P-256 point', async () => {
    await expect(sealPassword({ kty: 'EC', crv: 'P-256', x: 'AAAA', y: 'AAAA' }, '123456')).rejects.toMatchObject({ code: 'seal-failed' });
  });
});
