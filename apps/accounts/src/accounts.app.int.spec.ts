import { GetKeyV1 } from '@thk/contracts';
import { eventually, startHarness, type Harness } from './testing/accounts-harness.js';
import { createDevUser } from './testing/events.js';

describe('startAccounts', () => {
  let h: Harness;
  beforeAll(async () => { h = await startHarness('accounts_app', { sweepIntervalMs: 150 }); });
  afterAll(async () => { await h?.stop(); });

  describe('health', () => {
    it('answers live and ready (database and NATS up) and metrics', async () => {
      await expect((await fetch(`${h.accounts.url}/health/live`)).json()).resolves.toEqual({ status: 'ok' });
      await expect((await fetch(`${h.accounts.url}/health/ready`)).json()).resolves.toEqual({ status: 'ok', checks: { database: 'up', nats: 'up', 'jetstream-consumers': 'up' } });
      await expect((await fetch(`${h.accounts.url}/metrics`)).text()).resolves.toContain('process_cpu_user_seconds_total');
    });
  });

  describe('scheduled expiry sweep', () => {
    it('persists expired on its own once a certificate ends', async () => {
      const now = Date.now();
      const u = await createDevUser(h, { certificate: { notBefore: new Date(now - 60_000).toISOString(), notAfter: new Date(now + 1_500).toISOString() } });
      await expect(h.rpc.call(GetKeyV1, { userId: u.userId, keyId: u.keyId })).resolves.toMatchObject({ key: { status: 'active' } });
      const status = async () => ((await h.accounts.dataSource.query('SELECT status, status_reason FROM key_accounts WHERE id = $1', [u.keyId])) as Array<{ status: string; status_reason: string | null }>)[0]!;
      await expect(eventually(status, (s) => s.status === 'expired', 10_000)).resolves.toEqual({ status: 'expired', status_reason: 'certificate-expired' });
    });
  });
});
