import { X509Certificate } from '@peculiar/x509';
import { CreateDevUserV1, FindDevUserV1, GetKeyCertificateV1, GetKeyV1 } from '@thk/contracts';
import { RpcClient } from '@thk/messaging';
import { UnitOfWork } from '@thk/persistence';
import { startHarness, type Harness } from '../testing/accounts-harness.js';
import { randomRnokpp } from '../testing/events.js';
import { DevUsers } from './dev-users.service.js';

const DAY = 86_400_000;

describe('dev users (CreateDevUser, FindDevUser)', () => {
  let h: Harness;
  beforeAll(async () => { h = await startHarness('accounts_dev_users'); });
  afterAll(async () => { await h?.stop(); });

  const request = (overrides: Partial<Parameters<RpcClient['call']>[1]> = {}) => ({
    fullName: 'Тест Тест Тест', rnokpp: randomRnokpp(), organization: null, edrpou: null, position: null, cloudKeyPassword: 'Demo-Cloud-Key-1', certificate: null, ...overrides,
  });

  describe('CreateDevUser', () => {
    it('creates a user with an active cloud key certified by the CA, from one day ago for 365 days by default', async () => {
      const before = Date.now();
      const req = request();
      const { userId, keyId } = await h.rpc.call(CreateDevUserV1, req);
      const { key, certificateRevoked } = await h.rpc.call(GetKeyV1, { userId, keyId });
      expect(certificateRevoked).toBe(false);
      expect(key).toMatchObject({
        kind: 'cloud', temporary: false, status: 'active', baseKeyId: null, token: null,
        owner: { organization: null, edrpou: null, fullName: 'Тест Тест Тест', rnokpp: req.rnokpp, position: null },
        certificate: { subject: expect.stringContaining(`TINUA-${req.rnokpp}`), issuer: 'CN=THK Test Issuing CA, C=UA' },
      });
      expect(key.actions).toContain('form-temporary-hardware-key');
      const notBefore = Date.parse(key.certificate!.notBefore);
      expect(Math.abs(notBefore - (before - DAY))).toBeLessThan(5_000);
      expect(Date.parse(key.certificate!.notAfter) - notBefore).toBe(365 * DAY);
      const { der } = await h.rpc.call(GetKeyCertificateV1, { userId, keyId });
      const certificate = new X509Certificate(Buffer.from(der, 'base64'));
      expect(await certificate.verify({ publicKey: h.ca.certificate.publicKey, signatureOnly: true })).toBe(true);
      await expect(h.rpc.call(FindDevUserV1, { rnokpp: req.rnokpp })).resolves.toEqual({ userId });
    });

    it('honours a past certificate window, so that expiry can be tried', async () => {
      const window = { notBefore: '2024-01-01T00:00:00.000Z', notAfter: '2025-01-01T00:00:00.000Z' };
      const { userId, keyId } = await h.rpc.call(CreateDevUserV1, request({ certificate: window }));
      const { key } = await h.rpc.call(GetKeyV1, { userId, keyId });
      expect(key).toMatchObject({ status: 'expired', certificate: window });
      expect(key.actions).not.toContain('form-temporary-hardware-key');
    });

    it('refuses a second user with the same РНОКПП, an inverted window, and an organisation without ЄДРПОУ', async () => {
      const req = request();
      await h.rpc.call(CreateDevUserV1, req);
      await expect(h.rpc.call(CreateDevUserV1, { ...req, fullName: 'Інший Користувач' })).rejects.toMatchObject({ code: 'conflict' });
      await expect(h.rpc.call(CreateDevUserV1, request({ certificate: { notBefore: '2026-01-02T00:00:00Z', notAfter: '2026-01-01T00:00:00Z' } }))).rejects.toMatchObject({ code: 'validation-failed' });
      await expect(h.rpc.call(CreateDevUserV1, request({ organization: 'ТОВ Ромашка' }))).rejects.toMatchObject({ code: 'validation-failed' });
    });

    it('stores nothing when the CA refuses or does not answer', async () => {
      h.ca.stop();
      try {
        const req = request();
        await expect(h.rpc.call(CreateDevUserV1, req, { timeoutMs: 15_000 })).rejects.toMatchObject({ code: 'service-unavailable' });
        await expect(h.rpc.call(FindDevUserV1, { rnokpp: req.rnokpp })).rejects.toMatchObject({ code: 'not-found' });
      } finally {
        h.ca.serve(h.nc);
      }
    });
  });

  describe('outside development mode', () => {
    it('answers not-available', async () => {
      const devUsers = new DevUsers(h.accounts.dataSource, new UnitOfWork(h.accounts.dataSource), h.accounts.services.depository, h.accounts.services.lifecycle,
        new RpcClient(h.nc), () => new Date(), { enabled: false, caTimeoutMs: 1_000 });
      await expect(devUsers.create(request() as never)).rejects.toMatchObject({ code: 'not-available' });
      await expect(devUsers.find('1111111111')).rejects.toMatchObject({ code: 'not-available' });
    });
  });
});
