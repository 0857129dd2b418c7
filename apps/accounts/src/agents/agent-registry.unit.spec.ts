import { isOnline, tokenDisplay, tokenIdOf } from './agent-registry.service.js';

const jwk = { kty: 'EC', crv: 'P-256', x: 'f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU', y: 'x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0' } as const;

describe('agent-registry', () => {
  describe('tokenDisplay', () => {
    it('shows <serial>(<model>), falling back to the label', () => {
      expect(tokenDisplay({ serial: '220771', model: 'е.ключ IIT Алмаз-1К', label: 'x' })).toBe('220771(е.ключ IIT Алмаз-1К)');
      expect(tokenDisplay({ serial: '220771', model: ' ', label: 'SoftHSM' })).toBe('220771(SoftHSM)');
    });
  });

  describe('tokenIdOf', () => {
    it('joins agent and serial', () => {
      expect(tokenIdOf('demo-agent', '220771')).toBe('demo-agent:220771');
    });
  });

  describe('isOnline', () => {
    const now = new Date('2026-06-01T12:00:00.000Z');
    it('is online within three heartbeats of the last inventory, offline after', () => {
      expect(isOnline({ lastReportedAt: new Date(now.getTime() - 45_000), heartbeatSeconds: 15, sealingKey: jwk }, now)).toBe(true);
      expect(isOnline({ lastReportedAt: new Date(now.getTime() - 45_001), heartbeatSeconds: 15, sealingKey: jwk }, now)).toBe(false);
      expect(isOnline({ lastReportedAt: null, heartbeatSeconds: null, sealingKey: null }, now)).toBe(false);
    });
  });
});
