import type { InventoryToken } from '@thk/contracts';

type PinState = Pick<InventoryToken, 'userPinInitialized' | 'userPinLocked' | 'userPinFinalTry' | 'userPinCountLow'>;

/** The PIN state in words a person at the workstation understands. */
export function pinStateText(t: PinState): string {
  if (t.userPinLocked) return 'PIN locked';
  if (!t.userPinInitialized) return 'no PIN yet (set by the first key generation)';
  if (t.userPinFinalTry) return 'PIN set, one try left';
  if (t.userPinCountLow) return 'PIN set, wrong PINs were entered';
  return 'PIN set';
}

export function tokenLine(t: Pick<InventoryToken, 'serial' | 'model' | 'label' | 'algorithms'> & PinState, extra = ''): string {
  const display = `${t.serial}(${t.model || t.label})`;
  return `  ${display}  label "${t.label}"  ${pinStateText(t)}  algorithms: ${t.algorithms.join(', ') || 'none supported'}${extra}`;
}
