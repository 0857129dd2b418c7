import { Pkcs11Error } from './pkcs11.error.js';
import { ck, native, type Handle, type NativePkcs11 } from './pkcs11js.js';
import { algorithmsFromMechanisms, decodeTokenFlags, type TokenDescription } from './token.js';
import { TokenSession } from './token-session.js';

export interface Pkcs11ModuleOptions {
  /** Called with the name of every PKCS#11 function before it runs (never its arguments). */
  trace?: (fn: string) => void;
}

export interface SlotDescription {
  slotId: string;
  description: string;
  manufacturer: string;
  tokenPresent: boolean;
  removable: boolean;
  hardware: boolean;
}

/**
 * A module loaded once per process and path: PKCS#11 allows one `C_Initialize` per process, so a
 * second `open` of the same path shares it and only the last `close` finalizes.
 */
interface Loaded { lib: NativePkcs11; refs: number; sessions: number; ownsInitialize: boolean }
const loaded = new Map<string, Loaded>();

const slotIdOf = (slot: Handle): string => (slot.length >= 8 ? slot.readBigUInt64LE(0) : BigInt(slot.readUIntLE(0, slot.length))).toString();
const trim = (s: string) => s.replace(/[\s\0]+$/u, '').trim();

/** A PKCS#11 module (a `.so`/`.dll` path): its slots, tokens and sessions. */
export class Pkcs11Module {
  private closed = false;

  private constructor(readonly path: string, private readonly state: Loaded, private readonly options: Pkcs11ModuleOptions) {}

  /** Loads and initialises the module (OS locking: the library may be called from the thread pool). */
  static open(path: string, options: Pkcs11ModuleOptions = {}): Pkcs11Module {
    let state = loaded.get(path);
    if (!state) {
      const lib = new native.PKCS11();
      try {
        options.trace?.('load');
        lib.load(path);
      } catch (error) {
        throw Pkcs11Error.from(error, 'load');
      }
      let ownsInitialize = true;
      try {
        options.trace?.('C_Initialize');
        lib.C_Initialize({ flags: ck('CKF_OS_LOCKING_OK') });
      } catch (error) {
        const e = Pkcs11Error.from(error, 'C_Initialize');
        // Initialised earlier in this process by code that did not finalize (e.g. a test runner that
        // reloaded our module registry): share it, and leave finalizing to whoever initialised it.
        if (!e.is('CKR_CRYPTOKI_ALREADY_INITIALIZED')) throw e;
        ownsInitialize = false;
      }
      state = { lib, refs: 0, sessions: 0, ownsInitialize };
      loaded.set(path, state);
    }
    state.refs++;
    return new Pkcs11Module(path, state, options);
  }

  /** Runs one PKCS#11 call, traced, with its failure normalised to a Pkcs11Error. */
  call<T>(fn: string, run: (lib: NativePkcs11) => T): T {
    this.assertOpen();
    this.options.trace?.(fn);
    try {
      return run(this.state.lib);
    } catch (error) {
      throw Pkcs11Error.from(error, fn);
    }
  }

  async callAsync<T>(fn: string, run: (lib: NativePkcs11) => Promise<T>): Promise<T> {
    this.assertOpen();
    this.options.trace?.(fn);
    try {
      return await run(this.state.lib);
    } catch (error) {
      throw Pkcs11Error.from(error, fn);
    }
  }

  info(): { manufacturer: string; description: string; cryptokiVersion: string; libraryVersion: string } {
    const i = this.call('C_GetInfo', (lib) => lib.C_GetInfo());
    return {
      manufacturer: trim(i.manufacturerID),
      description: trim(i.libraryDescription),
      cryptokiVersion: `${i.cryptokiVersion.major}.${i.cryptokiVersion.minor}`,
      libraryVersion: `${i.libraryVersion.major}.${i.libraryVersion.minor}`,
    };
  }

  slots(): SlotDescription[] {
    const handles = this.call('C_GetSlotList', (lib) => lib.C_GetSlotList(false));
    return handles.map((slot) => {
      const info = this.call('C_GetSlotInfo', (lib) => lib.C_GetSlotInfo(slot));
      return {
        slotId: slotIdOf(slot),
        description: trim(info.slotDescription),
        manufacturer: trim(info.manufacturerID),
        tokenPresent: (info.flags & ck('CKF_TOKEN_PRESENT')) !== 0,
        removable: (info.flags & ck('CKF_REMOVABLE_DEVICE')) !== 0,
        hardware: (info.flags & ck('CKF_HW_SLOT')) !== 0,
      };
    });
  }

  /**
   * The initialised tokens present now. A slot whose token vanished between the slot list and the
   * token info (pulled out, deleted) is left out rather than failing the whole list; an uninitialised
   * token (a blank card, SoftHSM's free slot) is not usable and left out too.
   */
  tokens(): TokenDescription[] {
    const out: TokenDescription[] = [];
    for (const slot of this.call('C_GetSlotList', (lib) => lib.C_GetSlotList(true))) {
      try {
        const token = this.describe(slot);
        if (token.flags.initialized) out.push(token);
      } catch (error) {
        if (error instanceof Pkcs11Error && error.ckr !== 'NATIVE') continue;
        throw error;
      }
    }
    return out;
  }

  /** The token in a slot, read afresh (flags change with every wrong PIN). */
  token(slotId: string): TokenDescription {
    return this.describe(this.slotHandle(slotId));
  }

  findToken(serial: string): TokenDescription | undefined {
    return this.tokens().find((t) => t.serial === serial);
  }

  /** Opens a session on the token of a slot (read/write unless asked otherwise). */
  openSession(slotId: string, options: { readWrite?: boolean } = {}): TokenSession {
    const slot = this.slotHandle(slotId);
    const flags = ck('CKF_SERIAL_SESSION') | ((options.readWrite ?? true) ? ck('CKF_RW_SESSION') : 0);
    const handle = this.call('C_OpenSession', (lib) => lib.C_OpenSession(slot, flags));
    this.state.sessions++;
    return new TokenSession(this, slot, slotId, handle, () => { this.state.sessions--; });
  }

  /** Sessions open on this module in this process (all users of the path together). */
  get openSessions(): number {
    return this.state.sessions;
  }

  /**
   * Finalizes and initialises the module again. Some modules (SoftHSM among them) read their token
   * list only in `C_Initialize`: a token added or deleted since is seen only after this. Refused while
   * a session is open or another user shares the module.
   */
  reinitialize(): void {
    this.assertOpen();
    if (this.state.sessions > 0 || this.state.refs > 1) {
      throw new Pkcs11Error('CKR_OPERATION_ACTIVE', 'C_Finalize', { message: 'cannot re-initialise the module while it is in use' });
    }
    this.call('C_Finalize', (lib) => lib.C_Finalize());
    this.call('C_Initialize', (lib) => lib.C_Initialize({ flags: ck('CKF_OS_LOCKING_OK') }));
    this.state.ownsInitialize = true;
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.state.refs--;
    if (this.state.refs > 0) return;
    loaded.delete(this.path);
    if (!this.state.ownsInitialize) return;
    this.options.trace?.('C_Finalize');
    try {
      this.state.lib.C_Finalize();
    } catch {
      // Finalizing a module that is already gone is not worth failing a shutdown for.
    }
  }

  private describe(slot: Handle): TokenDescription {
    const info = this.call('C_GetTokenInfo', (lib) => lib.C_GetTokenInfo(slot));
    const mechanisms = this.call('C_GetMechanismList', (lib) => lib.C_GetMechanismList(slot));
    const rangeOf = (mechanism: number) => {
      try {
        return this.call('C_GetMechanismInfo', (lib) => lib.C_GetMechanismInfo(slot, mechanism));
      } catch {
        return undefined;
      }
    };
    return {
      slotId: slotIdOf(slot),
      modulePath: this.path,
      serial: trim(info.serialNumber),
      label: trim(info.label),
      model: trim(info.model),
      manufacturer: trim(info.manufacturerID),
      flags: decodeTokenFlags(info.flags),
      minPinLength: info.minPinLen,
      maxPinLength: info.maxPinLen,
      mechanisms,
      algorithms: algorithmsFromMechanisms(mechanisms, rangeOf),
    };
  }

  private slotHandle(slotId: string): Handle {
    const handle = Buffer.alloc(8);
    handle.writeBigUInt64LE(BigInt(slotId));
    return handle;
  }

  private assertOpen(): void {
    if (this.closed) throw new Pkcs11Error('CKR_CRYPTOKI_NOT_INITIALIZED', 'call', { message: 'the PKCS#11 module was closed', retryable: false });
  }
}
