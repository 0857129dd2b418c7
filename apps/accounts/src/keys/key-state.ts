import type { KeyAction, KeyStatus } from '@thk/contracts';
import type { KeyKind } from '../persistence/index.js';

/** What the menu and the lifecycle rules need to know about a key. */
export interface KeyFacts {
  kind: KeyKind;
  temporary: boolean;
  status: KeyStatus;
  certNotBefore: Date | null;
  certNotAfter: Date | null;
  /** The depository locked the key's access after too many wrong passwords (cloud keys only). */
  accessBlocked: boolean;
}

/**
 * The status a reader sees: an `active` key whose certificate has ended reads `expired` even before
 * the sweep has persisted it, so the list, the depository and the sweep always agree.
 */
export function effectiveStatus(key: Pick<KeyFacts, 'status' | 'certNotAfter'>, now: Date): KeyStatus {
  if (key.status === 'active' && key.certNotAfter !== null && key.certNotAfter.getTime() <= now.getTime()) return 'expired';
  return key.status;
}

/** Active, and its certificate valid at `now` (not before its notBefore, not at or after its notAfter). */
export function hasValidCertificate(key: Pick<KeyFacts, 'status' | 'certNotBefore' | 'certNotAfter'>, now: Date): boolean {
  return effectiveStatus(key, now) === 'active' && key.certNotBefore !== null && key.certNotAfter !== null
    && key.certNotBefore.getTime() <= now.getTime() && now.getTime() < key.certNotAfter.getTime();
}

/** The base of a temporary key: an active cloud key with a certificate valid now. */
export function canBaseTemporaryKeys(key: KeyFacts, now: Date): boolean {
  return key.kind === 'cloud' && !key.temporary && hasValidCertificate(key, now);
}

const CERTIFICATE_VIEWS: KeyAction[] = ['view-application', 'download-certificates', 'check-certificate-status'];

/**
 * The seed's three-dots menu for a key in its current state. Whatever needs a valid certificate
 * (forming temporary keys, extending, tokens) appears only while the certificate is valid now;
 * whatever needs the depository (password, temporary keys) disappears while its access is blocked,
 * and «Активувати доступ» appears instead of «Заблокувати доступ».
 */
export function keyActions(key: KeyFacts, now: Date): KeyAction[] {
  const status = effectiveStatus(key, now);
  switch (status) {
    case 'pending':
    case 'failed':
      return ['view-application'];
    case 'blocked':
    case 'expired':
    case 'revoked':
      return key.certNotAfter ? [...CERTIFICATE_VIEWS] : ['view-application'];
    case 'active': {
      const actions: KeyAction[] = [...CERTIFICATE_VIEWS];
      if (key.kind !== 'cloud' || key.temporary) return actions;
      const valid = hasValidCertificate(key, now);
      if (valid) actions.push('extend-certificate');
      if (key.accessBlocked) {
        actions.push('activate-access');
        return actions;
      }
      actions.push('block-access', 'change-password');
      if (valid) actions.push('generate-access-token', 'form-temporary-file-key', 'form-temporary-hardware-key');
      return actions;
    }
    default: {
      const unreachable: never = status;
      throw new Error(`unknown key status ${String(unreachable)}`);
    }
  }
}
