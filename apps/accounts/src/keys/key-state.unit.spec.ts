import { canBaseTemporaryKeys, effectiveStatus, keyActions, type KeyFacts } from './key-state.js';

const now = new Date('2026-06-01T12:00:00.000Z');
const hour = 3_600_000;
const cloud = (overrides: Partial<KeyFacts> = {}): KeyFacts => ({
  kind: 'cloud', temporary: false, status: 'active', accessBlocked: false,
  certNotBefore: new Date(now.getTime() - 24 * hour), certNotAfter: new Date(now.getTime() + 24 * hour), ...overrides,
});

describe('key-state', () => {
  describe('effectiveStatus', () => {
    it('reads an active key past its notAfter as expired', () => {
      expect(effectiveStatus(cloud({ certNotAfter: now }), now)).toBe('expired');
      expect(effectiveStatus(cloud({ certNotAfter: new Date(now.getTime() + 1) }), now)).toBe('active');
    });

    it('leaves other statuses as stored', () => {
      for (const status of ['pending', 'blocked', 'revoked', 'failed'] as const) {
        expect(effectiveStatus(cloud({ status, certNotAfter: new Date(0) }), now)).toBe(status);
      }
    });
  });

  describe('keyActions', () => {
    it('offers the whole menu, forming temporary keys included, for an active cloud key valid now', () => {
      expect(keyActions(cloud(), now)).toEqual([
        'view-application', 'download-certificates', 'check-certificate-status', 'extend-certificate',
        'block-access', 'change-password', 'generate-access-token', 'form-temporary-file-key', 'form-temporary-hardware-key',
      ]);
    });

    it('offers activate-access instead of anything that needs the password when access is blocked', () => {
      const actions = keyActions(cloud({ accessBlocked: true }), now);
      expect(actions).toContain('activate-access');
      expect(actions).not.toContain('block-access');
      expect(actions).not.toContain('form-temporary-hardware-key');
      expect(actions).not.toContain('change-password');
    });

    it('offers nothing that needs a valid certificate once the certificate has ended', () => {
      const actions = keyActions(cloud({ certNotAfter: new Date(now.getTime() - 1) }), now);
      expect(actions).toEqual(['view-application', 'download-certificates', 'check-certificate-status']);
    });

    it('offers no temporary key before the certificate starts', () => {
      const actions = keyActions(cloud({ certNotBefore: new Date(now.getTime() + hour) }), now);
      expect(actions).not.toContain('form-temporary-hardware-key');
      expect(actions).not.toContain('form-temporary-file-key');
      expect(actions).toContain('change-password');
    });

    it.each(['blocked', 'revoked', 'expired'] as const)('offers only the certificate views for a %s key', (status) => {
      expect(keyActions(cloud({ status }), now)).toEqual(['view-application', 'download-certificates', 'check-certificate-status']);
    });

    it.each(['pending', 'failed'] as const)('offers only the application for a %s temporary key', (status) => {
      expect(keyActions({ kind: 'hardware', temporary: true, status, accessBlocked: false, certNotBefore: null, certNotAfter: null }, now)).toEqual(['view-application']);
    });

    it('offers an active temporary hardware key only its certificate views', () => {
      expect(keyActions(cloud({ kind: 'hardware', temporary: true }), now)).toEqual(['view-application', 'download-certificates', 'check-certificate-status']);
    });
  });

  describe('canBaseTemporaryKeys', () => {
    it('accepts only an active, non-temporary cloud key whose certificate is valid now', () => {
      expect(canBaseTemporaryKeys(cloud(), now)).toBe(true);
      expect(canBaseTemporaryKeys(cloud({ kind: 'hardware', temporary: true }), now)).toBe(false);
      expect(canBaseTemporaryKeys(cloud({ status: 'blocked' }), now)).toBe(false);
      expect(canBaseTemporaryKeys(cloud({ certNotAfter: now }), now)).toBe(false);
      expect(canBaseTemporaryKeys(cloud({ certNotBefore: new Date(now.getTime() + 1) }), now)).toBe(false);
    });
  });
});
