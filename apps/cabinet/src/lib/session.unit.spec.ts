import { clearSession, loadSession, saveSession } from './session.js';

class MemoryStorage {
  private readonly map = new Map<string, string>();
  getItem(k: string) { return this.map.get(k) ?? null; }
  setItem(k: string, v: string) { this.map.set(k, v); }
  removeItem(k: string) { this.map.delete(k); }
}

describe('session', () => {
  describe('loadSession', () => {
    it('returns a saved session until shortly before it expires', () => {
      const storage = new MemoryStorage();
      const now = Date.parse('2021-08-25T13:00:00Z');
      saveSession({ accessToken: 't', expiresAt: '2021-08-25T14:00:00Z', rnokpp: '1111111111' }, storage);
      expect(loadSession(storage, now)?.accessToken).toBe('t');
      expect(loadSession(storage, Date.parse('2021-08-25T13:59:50Z'))).toBeNull();
      expect(loadSession(storage, now)).toBeNull();
    });

    it('forgets a cleared or unreadable session', () => {
      const storage = new MemoryStorage();
      saveSession({ accessToken: 't', expiresAt: '2999-01-01T00:00:00Z', rnokpp: '1' }, storage);
      clearSession(storage);
      expect(loadSession(storage)).toBeNull();
      storage.setItem('thk.cabinet.session', '{not json');
      expect(loadSession(storage)).toBeNull();
    });
  });
});
