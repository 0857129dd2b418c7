import { GetKeyCertificateV1, GetKeyV1, ListKeysV1, keyAccount, type KeyAccount } from '@thk/contracts';
import { randomUUID } from 'node:crypto';
import { startHarness, type Harness } from '../testing/accounts-harness.js';
import { seedKey, seedUser } from '../testing/seed.js';

describe('keys (ListKeys, GetKey, GetKeyCertificate over NATS)', () => {
  let h: Harness;
  beforeAll(async () => { h = await startHarness('accounts_keys'); });
  afterAll(async () => { await h?.stop(); });

  const listAll = async (userId: string, limit: number): Promise<{ pages: KeyAccount[][]; cursors: Array<string | null> }> => {
    const pages: KeyAccount[][] = [];
    const cursors: Array<string | null> = [];
    let cursor: string | null = null;
    do {
      const page: { items: KeyAccount[]; nextCursor: string | null } = await h.rpc.call(ListKeysV1, { userId, limit, cursor });
      pages.push(page.items);
      cursors.push(page.nextCursor);
      cursor = page.nextCursor;
    } while (cursor !== null);
    return { pages, cursors };
  };

  describe('ListKeys', () => {
    it('walks every key once, newest first, across pages with ties in createdAt', async () => {
      const userId = await seedUser(h.accounts.dataSource);
      const other = await seedUser(h.accounts.dataSource);
      const base = Date.parse('2026-03-01T10:00:00.000Z');
      // 23 keys on 5 distinct instants: most pages cut through a group of equal createdAt.
      const seeded: Array<{ id: string; createdAt: number }> = [];
      for (let i = 0; i < 23; i++) {
        const createdAt = base + (i % 5) * 60_000;
        seeded.push({ id: await seedKey(h.accounts.dataSource, { userId, createdAt: new Date(createdAt) }), createdAt });
      }
      await seedKey(h.accounts.dataSource, { userId: other, createdAt: new Date(base) });
      const expected = [...seeded].sort((a, b) => b.createdAt - a.createdAt || (a.id < b.id ? 1 : -1)).map((k) => k.id);

      const { pages, cursors } = await listAll(userId, 4);
      expect(pages.map((p) => p.length)).toEqual([4, 4, 4, 4, 4, 3]);
      expect(pages.flat().map((k) => k.id)).toEqual(expected);
      expect(cursors[cursors.length - 1]).toBeNull();
      for (const item of pages.flat()) expect(keyAccount.safeParse(item).success).toBe(true);
    });

    it('keeps its place when newer keys arrive between pages', async () => {
      const userId = await seedUser(h.accounts.dataSource);
      const ids = [];
      for (let i = 0; i < 6; i++) ids.push(await seedKey(h.accounts.dataSource, { userId, createdAt: new Date(Date.parse('2026-03-01T00:00:00Z') + i * 1_000) }));
      const first = await h.rpc.call(ListKeysV1, { userId, limit: 3, cursor: null });
      await seedKey(h.accounts.dataSource, { userId, createdAt: new Date('2026-04-01T00:00:00Z') });
      const second = await h.rpc.call(ListKeysV1, { userId, limit: 3, cursor: first.nextCursor });
      expect([...first.items, ...second.items].map((k) => k.id)).toEqual([...ids].reverse());
    });

    it('answers an empty page for a user without keys', async () => {
      await expect(h.rpc.call(ListKeysV1, { userId: randomUUID(), limit: 50, cursor: null })).resolves.toEqual({ items: [], nextCursor: null });
    });

    it('refuses a cursor it did not issue, and limits outside 1–200', async () => {
      await expect(h.rpc.call(ListKeysV1, { userId: randomUUID(), limit: 10, cursor: 'bogus' })).rejects.toMatchObject({ code: 'validation-failed' });
      await expect(h.rpc.call(ListKeysV1, { userId: randomUUID(), limit: 201, cursor: null })).rejects.toMatchObject({ code: 'validation-failed' });
    });

    it('shows the status and actions each state offers, and «expired» for an active key past notAfter', async () => {
      const userId = await seedUser(h.accounts.dataSource, { organization: 'ТОВ Ромашка', edrpou: '12345678' });
      const t = (m: number) => new Date(Date.parse('2026-05-01T00:00:00Z') + m * 1_000);
      const active = await seedKey(h.accounts.dataSource, { userId, createdAt: t(6) });
      const ended = await seedKey(h.accounts.dataSource, { userId, createdAt: t(5), certNotAfter: new Date(Date.now() - 1_000) });
      const blocked = await seedKey(h.accounts.dataSource, { userId, createdAt: t(4), status: 'blocked' });
      const pending = await seedKey(h.accounts.dataSource, { userId, createdAt: t(3), kind: 'hardware', baseKeyId: active, status: 'pending', certNotAfter: null, token: { serial: '220771', model: 'е.ключ IIT Алмаз-1К', label: '220771' } });
      const temporary = await seedKey(h.accounts.dataSource, { userId, createdAt: t(2), kind: 'hardware', baseKeyId: active, token: { serial: '220771', model: 'е.ключ IIT Алмаз-1К', label: '220771' } });
      const failed = await seedKey(h.accounts.dataSource, { userId, createdAt: t(1), kind: 'hardware', baseKeyId: active, status: 'failed', certNotAfter: null });
      const { items } = await h.rpc.call(ListKeysV1, { userId, limit: 50, cursor: null });
      const byId = new Map(items.map((k) => [k.id, k]));
      expect(items.map((k) => k.id)).toEqual([active, ended, blocked, pending, temporary, failed]);
      expect(byId.get(active)).toMatchObject({ status: 'active', kind: 'cloud', temporary: false, baseKeyId: null, owner: { organization: 'ТОВ Ромашка', edrpou: '12345678', fullName: 'Тест Тест Тест' } });
      expect(byId.get(active)!.actions).toContain('form-temporary-hardware-key');
      expect(byId.get(ended)).toMatchObject({ status: 'expired', actions: ['view-application', 'download-certificates', 'check-certificate-status'] });
      expect(byId.get(blocked)).toMatchObject({ status: 'blocked', actions: ['view-application', 'download-certificates', 'check-certificate-status'] });
      expect(byId.get(pending)).toMatchObject({ status: 'pending', certificate: null, token: { serial: '220771', model: 'е.ключ IIT Алмаз-1К', label: '220771' }, actions: ['view-application'] });
      expect(byId.get(temporary)).toMatchObject({ status: 'active', temporary: true, baseKeyId: active, actions: ['view-application', 'download-certificates', 'check-certificate-status'] });
      expect(byId.get(failed)).toMatchObject({ status: 'failed', actions: ['view-application'] });
    });
  });

  describe('GetKey and GetKeyCertificate', () => {
    it('answers the key and its DER to its owner, and not-found to anyone else, exactly like a missing key', async () => {
      const userId = await seedUser(h.accounts.dataSource);
      const stranger = await seedUser(h.accounts.dataSource);
      const keyId = await seedKey(h.accounts.dataSource, { userId, createdAt: new Date() });
      await expect(h.rpc.call(GetKeyV1, { userId, keyId })).resolves.toMatchObject({ key: { id: keyId }, certificateRevoked: false });
      await expect(h.rpc.call(GetKeyCertificateV1, { userId, keyId })).resolves.toEqual({ der: 'MAMCAQE=' });
      const foreign = await h.rpc.call(GetKeyV1, { userId: stranger, keyId }).catch((e: unknown) => e);
      const missing = await h.rpc.call(GetKeyV1, { userId: stranger, keyId: randomUUID() }).catch((e: unknown) => e);
      expect(foreign).toMatchObject({ code: 'not-found', message: 'no such key' });
      expect(missing).toMatchObject({ code: 'not-found', message: 'no such key' });
      await expect(h.rpc.call(GetKeyCertificateV1, { userId: stranger, keyId })).rejects.toMatchObject({ code: 'not-found' });
    });
  });
});
