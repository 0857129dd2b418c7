import type { InventoryToken } from '@thk/contracts';
import type { Logger } from '@thk/core';
import { Semaphore } from '@thk/messaging';
import { Pkcs11Error, Pkcs11Module, type TokenDescription } from '@thk/pkcs11';

export interface FoundToken {
  module: Pkcs11Module;
  token: TokenDescription;
}

/**
 * The PKCS#11 modules the agent was configured with, and one lock over all token work: commands
 * and the slot poll never touch a token at the same time (a session is not safe for concurrent
 * use, and `reinitialize` needs every session closed).
 */
export class TokenRegistry {
  private readonly lock = new Semaphore(1);

  private constructor(readonly modules: Pkcs11Module[], private readonly rescan: 'slot-list' | 'reinitialize', private readonly logger?: Logger) {}

  static open(paths: readonly string[], options: { rescan?: 'slot-list' | 'reinitialize'; logger?: Logger } = {}): TokenRegistry {
    const modules: Pkcs11Module[] = [];
    try {
      for (const path of paths) modules.push(Pkcs11Module.open(path));
    } catch (error) {
      for (const m of modules) m.close();
      throw error;
    }
    return new TokenRegistry(modules, options.rescan ?? 'slot-list', options.logger);
  }

  /** Runs token work exclusively. */
  exclusive<T>(work: () => Promise<T>): Promise<T> {
    return this.lock.use(work);
  }

  get busy(): boolean {
    return this.lock.inUse > 0;
  }

  /** The tokens present now, from every module (call inside `exclusive`). */
  list(): TokenDescription[] {
    const seen = new Set<string>();
    const out: TokenDescription[] = [];
    for (const module of this.modules) {
      this.refresh(module);
      for (const token of module.tokens()) {
        if (seen.has(token.serial)) {
          this.logger?.warn({ serial: token.serial, module: module.path }, 'a second token with the same serial is ignored');
          continue;
        }
        seen.add(token.serial);
        out.push(token);
      }
    }
    return out;
  }

  /** The token with this serial, found afresh (call inside `exclusive`). */
  find(serial: string): FoundToken | undefined {
    for (const module of this.modules) {
      this.refresh(module);
      const token = module.findToken(serial);
      if (token) return { module, token };
    }
    return undefined;
  }

  /** In `reinitialize` mode, re-reads the module's tokens, unless someone else in this process uses it now. */
  private refresh(module: Pkcs11Module): void {
    if (this.rescan !== 'reinitialize' || module.openSessions > 0) return;
    try {
      module.reinitialize();
    } catch (error) {
      if (!Pkcs11Error.is(error, 'CKR_OPERATION_ACTIVE')) throw error;
    }
  }

  close(): void {
    for (const m of this.modules) m.close();
  }
}

const cut = (s: string, n: number) => (s.length > n ? s.slice(0, n) : s);

/** What the inventory report says about a token (never a PIN, only its state). */
export function inventoryToken(t: TokenDescription): InventoryToken {
  return {
    serial: cut(t.serial, 64),
    model: cut(t.model, 128),
    label: cut(t.label, 128),
    manufacturer: cut(t.manufacturer, 128),
    userPinInitialized: t.flags.userPinInitialized,
    userPinLocked: t.flags.userPinLocked,
    userPinCountLow: t.flags.userPinCountLow,
    userPinFinalTry: t.flags.userPinFinalTry,
    algorithms: t.algorithms,
  };
}
