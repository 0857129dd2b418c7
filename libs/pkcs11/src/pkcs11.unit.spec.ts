import { generateKeyPairSync } from 'node:crypto';
import { AppError } from '@thk/core';
import { Pkcs11Error, algorithmsFromMechanisms, decodeTokenFlags, isRetryableCkr, keyPairTemplates, p256PublicKey, p256Spki, spkiDer, tokenDisplayName, unwrapEcPoint } from './index.js';
import { ck, native } from './pkcs11js.js';

describe('Pkcs11Error', () => {
  describe('from', () => {
    it('keeps the CKR name and the function of a pkcs11js error', () => {
      const raw = new native.Pkcs11Error('CKR_PIN_INCORRECT:160\n    at PKCS11.C_Login (index.js:1:1)', 160, 'C_Login');
      const e = Pkcs11Error.from(raw, 'fallback');
      expect(e).toBeInstanceOf(AppError);
      expect(e).toMatchObject({ ckr: 'CKR_PIN_INCORRECT', ckrCode: 160, fn: 'C_Login', retryable: false, code: 'pkcs11.CKR_PIN_INCORRECT' });
      expect(e.toShape()).toEqual({ code: 'pkcs11.CKR_PIN_INCORRECT', message: 'C_Login failed: CKR_PIN_INCORRECT', retryable: false, meta: { ckr: 'CKR_PIN_INCORRECT', fn: 'C_Login' } });
    });

    it('names the function it was called for when the binding did not say', () => {
      const e = Pkcs11Error.from(new native.Pkcs11Error('CKR_DEVICE_REMOVED:50', 50), 'C_GetTokenInfo');
      expect(e).toMatchObject({ ckr: 'CKR_DEVICE_REMOVED', fn: 'C_GetTokenInfo', retryable: true });
    });

    it('wraps a non-PKCS#11 failure as NATIVE, not retryable', () => {
      expect(Pkcs11Error.from(new Error('dlopen failed'), 'load')).toMatchObject({ ckr: 'NATIVE', fn: 'load', retryable: false });
    });
  });

  describe('isRetryableCkr', () => {
    it.each([
      ['CKR_DEVICE_ERROR', true], ['CKR_TOKEN_NOT_PRESENT', true], ['CKR_SESSION_HANDLE_INVALID', true],
      ['CKR_PIN_INCORRECT', false], ['CKR_PIN_LOCKED', false], ['CKR_MECHANISM_INVALID', false], ['CKR_TEMPLATE_INCONSISTENT', false],
    ])('%s → %s', (ckr, expected) => {
      expect(isRetryableCkr(ckr)).toBe(expected);
    });
  });
});

describe('algorithmsFromMechanisms', () => {
  it('needs key generation and a signing mechanism for each algorithm', () => {
    expect(algorithmsFromMechanisms([ck('CKM_EC_KEY_PAIR_GEN'), ck('CKM_ECDSA'), ck('CKM_RSA_PKCS_KEY_PAIR_GEN'), ck('CKM_SHA256_RSA_PKCS')])).toEqual(['EC-P256', 'RSA-2048']);
    expect(algorithmsFromMechanisms([ck('CKM_EC_KEY_PAIR_GEN'), ck('CKM_ECDSA_SHA256')])).toEqual(['EC-P256']);
    expect(algorithmsFromMechanisms([ck('CKM_EC_KEY_PAIR_GEN'), ck('CKM_RSA_PKCS')])).toEqual([]);
  });

  it('leaves out RSA-2048 when the token caps RSA keys below 2048 bits', () => {
    const mechs = [ck('CKM_RSA_PKCS_KEY_PAIR_GEN'), ck('CKM_RSA_PKCS')];
    expect(algorithmsFromMechanisms(mechs, () => ({ minKeySize: 512, maxKeySize: 1024 }))).toEqual([]);
    expect(algorithmsFromMechanisms(mechs, () => ({ minKeySize: 1024, maxKeySize: 4096 }))).toEqual(['RSA-2048']);
  });
});

describe('decodeTokenFlags', () => {
  it('reads the PIN state bits', () => {
    const f = decodeTokenFlags(ck('CKF_TOKEN_INITIALIZED') | ck('CKF_USER_PIN_INITIALIZED') | ck('CKF_USER_PIN_COUNT_LOW') | ck('CKF_USER_PIN_LOCKED'));
    expect(f).toMatchObject({ initialized: true, userPinInitialized: true, userPinCountLow: true, userPinLocked: true, userPinFinalTry: false, soPinLocked: false });
  });
});

describe('tokenDisplayName', () => {
  it('shows <serial>(<model>), falling back to the label', () => {
    expect(tokenDisplayName({ serial: '220771', model: 'е.ключ IIT Алмаз-1К', label: 'x' })).toBe('220771(е.ключ IIT Алмаз-1К)');
    expect(tokenDisplayName({ serial: '220771', model: '', label: 'my token' })).toBe('220771(my token)');
  });
});

describe('keyPairTemplates', () => {
  it('sets every usage but sign/verify to false explicitly', () => {
    const t = keyPairTemplates({ algorithm: 'EC-P256', id: Buffer.from([1]), label: 'l' });
    const value = (tmpl: typeof t.privateKey, name: string) => tmpl.find((a) => a.type === ck(name))?.value;
    for (const name of ['CKA_DECRYPT', 'CKA_UNWRAP', 'CKA_DERIVE', 'CKA_SIGN_RECOVER', 'CKA_EXTRACTABLE']) expect(value(t.privateKey, name)).toBe(false);
    for (const name of ['CKA_TOKEN', 'CKA_PRIVATE', 'CKA_SENSITIVE', 'CKA_SIGN']) expect(value(t.privateKey, name)).toBe(true);
    for (const name of ['CKA_ENCRYPT', 'CKA_WRAP', 'CKA_VERIFY_RECOVER', 'CKA_DERIVE']) expect(value(t.publicKey, name)).toBe(false);
  });
});

describe('unwrapEcPoint', () => {
  const point = Buffer.concat([Buffer.from([4]), Buffer.alloc(64, 7)]);
  it('strips the DER OCTET STRING header and accepts a bare point', () => {
    expect(unwrapEcPoint(Buffer.concat([Buffer.from([0x04, 0x41]), point]))).toEqual(point);
    expect(unwrapEcPoint(point)).toEqual(point);
    expect(() => unwrapEcPoint(Buffer.alloc(10))).toThrow(TypeError);
  });
});

describe('p256Spki', () => {
  it('is, byte for byte, what node:crypto exports for the point, wrapped or bare', () => {
    for (let i = 0; i < 10; i++) {
      const { publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
      const jwk = publicKey.export({ format: 'jwk' });
      const point = Buffer.concat([Buffer.from([4]), Buffer.from(jwk.x!, 'base64url'), Buffer.from(jwk.y!, 'base64url')]);
      const spki = publicKey.export({ format: 'der', type: 'spki' });
      expect(p256Spki(point)).toEqual(spki);
      expect(p256Spki(Buffer.concat([Buffer.from([0x04, 0x41]), point]))).toEqual(spki);
      expect(spkiDer(p256PublicKey(point))).toEqual(spki);
    }
    expect(() => p256Spki(Buffer.alloc(10))).toThrow(TypeError);
  });
});
