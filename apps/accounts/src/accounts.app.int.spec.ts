import { GetKeyV1 } from '@thk/contracts';
import { eventually, startHarness, type Harness } from './testing/accounts-harness.js';
import { createDevUser } from './testing/events.js';

const HOUR = 3_600_000;

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
      const u = await createDevUser(h, { certificate: { notBefore: new Date(now - 60_000).toISOString(), notAfter: new Date(now + HOUR).toISOString() } });
      const status = async () => ((await h.accounts.dataSource.query('SELECT status, status_reason FROM key_accounts WHERE id = $1', [u.keyId])) as Array<{ status: string; status_reason: string | null }>)[0]!;
      await expect(h.rpc.call(GetKeyV1, { userId: u.userId, keyId: u.keyId })).resolves.toMatchObject({ key: { status: 'active' } });
      // Several sweeps (every 150 ms) have run while the certificate was valid: they left it alone.
      await new Promise((r) => setTimeout(r, 500));
      expect(await status()).toEqual({ status: 'active', status_reason: null });
      // The service's clock passes the certificate's end (the test's clock, not a wait for a real one).
      h.clock.advance(2 * HOUR);
      try {
        await expect(eventually(status, (s) => s.status === 'expired', 10_000)).resolves.toEqual({ status: 'expired', status_reason: 'certificate-expired' });
      } finally {
        h.clock.reset();
      }
    });
  });
});
