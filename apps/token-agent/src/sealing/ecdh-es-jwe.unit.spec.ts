import { createPrivateKey, createPublicKey, diffieHellman, generateKeyPairSync } from 'node:crypto';
import { CompactEncrypt, importJWK, type JWK } from 'jose';
import { concatKdf, openEcdhEsA256Gcm } from './ecdh-es-jwe.js';

const b64 = (v: unknown) => Buffer.from(typeof v === 'string' ? v : JSON.stringify(v)).toString('base64url');

describe('openEcdhEsA256Gcm', () => {
  const recipient = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const publicJwk = recipient.publicKey.export({ format: 'jwk' }) as JWK;
  const seal = async (text: string, parameters: { apu?: Uint8Array; apv?: Uint8Array } = {}, header: Record<string, unknown> = {}) =>
    new CompactEncrypt(new TextEncoder().encode(text)).setProtectedHeader({ alg: 'ECDH-ES', enc: 'A256GCM', ...header }).setKeyManagementParameters(parameters)
      .encrypt(await importJWK(publicJwk, 'ECDH-ES'));

  it('opens what jose seals, with and without PartyU/PartyV info', async () => {
    for (let i = 0; i < 20; i++) expect(openEcdhEsA256Gcm(await seal(`пін-${i}`), recipient.privateKey).toString('utf8')).toBe(`пін-${i}`);
    const withParties = await seal('pin-with-parties', { apu: Buffer.from('Alice'), apv: Buffer.from('Bob') });
    expect(openEcdhEsA256Gcm(withParties, recipient.privateKey).toString('utf8')).toBe('pin-with-parties');
  });

  it('derives the key of RFC 7518 Appendix C (ECDH-ES, A128GCM, apu Alice, apv Bob)', () => {
    const bob = createPrivateKey({ format: 'jwk', key: { kty: 'EC', crv: 'P-256', x: 'weNJy2HscCSM6AEDTDg04biOvhFhyyWvOHQfeF_PxMQ', y: 'e8lnCO-AlStT-NJVX-crhB7QRYhiix03illJOVAOyck', d: 'VEmDZpDXXK8p8N0Cndsxs924q6nS1RXFASRl6BfUqdw' } });
    const alice = createPrivateKey({ format: 'jwk', key: { kty: 'EC', crv: 'P-256', x: 'gI0GAILBdu7T53akrFmMyGcsF3n5dO7MmwNBHKW5SV0', y: 'SLW_xSffzlPWrHEVI30DHM_4egVwt3NQqeUD7nMFpps', d: '0_NxaRPUMQoAJt50Gz8YiTr8gRTwyEaCumd-MToTmIo' } });
    const z = diffieHellman({ privateKey: bob, publicKey: createPublicKey(alice) });
    expect(concatKdf(z, 128, 'A128GCM', Buffer.from('Alice'), Buffer.from('Bob')).toString('base64url')).toBe('VqqN6vgjbSBcIijNcacQGg');
  });

  it('refuses another algorithm, zip, crit, an encrypted key, a malformed or tampered JWE, and another recipient', async () => {
    const good = await seal('secret-pin');
    const [h, , iv, ct, tag] = good.split('.') as [string, string, string, string, string];
    const header = JSON.parse(Buffer.from(h, 'base64url').toString('utf8')) as Record<string, unknown>;
    const reheader = (change: Record<string, unknown>) => [b64({ ...header, ...change }), '', iv, ct, tag].join('.');
    const kw = await new CompactEncrypt(new TextEncoder().encode('secret-pin')).setProtectedHeader({ alg: 'ECDH-ES+A256KW', enc: 'A256GCM' }).encrypt(await importJWK(publicJwk, 'ECDH-ES+A256KW'));
    const other = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const flip = (s: string) => `${s.slice(0, -2)}${s.at(-2) === 'A' ? 'B' : 'A'}${s.at(-1)}`;
    const cases: Array<[string, string]> = [
      ['key wrapping', kw],
      ['A128GCM', await new CompactEncrypt(new TextEncoder().encode('secret-pin')).setProtectedHeader({ alg: 'ECDH-ES', enc: 'A128GCM' }).encrypt(await importJWK(publicJwk, 'ECDH-ES'))],
      ['zip', reheader({ zip: 'DEF' })],
      ['crit', reheader({ crit: ['exp'], exp: 1 })],
      ['an encrypted key', [h, 'AAAA', iv, ct, tag].join('.')],
      ['four parts', [h, '', iv, ct].join('.')],
      ['a header that is not JSON', [b64('{"alg":'), '', iv, ct, tag].join('.')],
      ['an epk off the curve', reheader({ epk: { ...(header['epk'] as object), y: (header['epk'] as { x: string }).x } })],
      ['a tampered ciphertext', [h, '', iv, flip(ct), tag].join('.')],
      ['a tampered tag', [h, '', iv, ct, flip(tag)].join('.')],
      ['a tampered IV', [h, '', flip(iv), ct, tag].join('.')],
      ['a short IV', [h, '', b64('short'), ct, tag].join('.')],
      ['a tampered header (the AAD)', reheader({ kid: 'x' })],
      ['not base64url', [h, '', iv, `${ct}+/`, tag].join('.')],
    ];
    cases.push(['another recipient\'s key', good]);
    const opens = (jwe: string, key = recipient.privateKey) => { try { openEcdhEsA256Gcm(jwe, key); return true; } catch { return false; } };
    expect(cases.filter(([what, jwe]) => opens(jwe, what === 'another recipient\'s key' ? other.privateKey : recipient.privateKey)).map(([what]) => what)).toEqual([]);
    expect(openEcdhEsA256Gcm(good, recipient.privateKey).toString('utf8')).toBe('secret-pin');
  });
});
