import { mkdirSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import type { Envelope, KeyAlgorithm } from '@thk/contracts';
import { AppError } from '@thk/core';
import { fsyncDirSync, writeFileAtomicSync } from '../state/atomic-file.js';

/** Under the state directory: one file per entry, `<requestId>.json`. */
export const JOURNAL_DIR = 'journal';
/** The whole journal in one document, as agents before one file per entry kept it; migrated at open. */
const LEGACY_JOURNAL_FILE = 'journal.json';
const REQUEST_ID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const ENTRY_FILE = /^([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})\.json$/i;

/** An event the agent built and must publish (again, after a crash) until it is marked published. */
export interface StoredEvent {
  subject: string;
  envelope: Envelope;
  published: boolean;
}

/**
 * Where the PIN of the token stands for this request. `initializing` / `changing` are written just
 * before `C_InitPIN` / `C_SetPIN`: finding one at a later delivery means the agent stopped in
 * between and the PIN may be either; it is never guessed.
 */
export type PinStep = 'unchanged' | 'initializing' | 'changing' | 'set';
/**
 * `generating` is written just before `C_GenerateKeyPair` (the pair may exist under `keyId` from
 * then on), `created` together with the result (the CSR was built).
 */
export type KeyStep = 'none' | 'generating' | 'created';

export interface GenerationRecord {
  commandId: string;
  correlationId: string;
  algorithm: KeyAlgorithm;
  label: string;
  /** `CKA_ID` (hex), fixed before anything is created and shared by everything created for the request. */
  keyId: string;
  pin: PinStep;
  key: KeyStep;
  /** `TokenKeyGenerated`, built once and republished verbatim on a redelivery. */
  result?: StoredEvent;
  /** `TokenKeyGenerationFailed` for the command `commandId`; a new command for the request tries again. */
  failure?: StoredEvent & { commandId: string };
}

export interface InstallRecord {
  commandId: string;
  keyId: string;
  certificateSha256: string;
  /** The certificate object was created by this agent (so a compensation may destroy it). */
  certificateWritten: boolean;
  result?: StoredEvent;
  failure?: StoredEvent & { commandId: string };
}

export interface DestroyRecord {
  commandId: string;
  destroyedObjects: number;
  /** The request's private key is no longer on the token (destroyed, or not found after a login): a later command needs no login. */
  privateKeyDestroyed?: boolean;
  result?: StoredEvent;
}

export interface JournalEntry {
  requestId: string;
  tokenSerial: string;
  createdAt: string;
  updatedAt: string;
  generation?: GenerationRecord;
  install?: InstallRecord;
  destroy?: DestroyRecord;
}

interface EntryFile { version: 1; entry: JournalEntry }
interface LegacyJournalFile { version: 1; entries: Record<string, JournalEntry> }

/**
 * The agent's local journal: one JSON file per request (`journal/<requestId>.json`, 0600, in a 0700
 * directory), replaced atomically (temp file, fsync, rename, fsync of the directory) on every step, so
 * that a crash at any point leaves each entry at its last completed step. An update writes its own
 * entry only: its cost does not grow with the entries kept for the retention period (each holds a CSR
 * and a certificate of a few KB).
 */
export class AgentJournal {
  private constructor(private readonly dir: string, private readonly entries: Map<string, JournalEntry>, private readonly now: () => Date) {}

  /**
   * Opens the journal for the agent, its only writer: removes the temp files of writes a crash
   * interrupted and migrates a `journal.json`. Refuses an entry it cannot read: starting without it
   * would forget a key this agent made.
   */
  static async open(stateDir: string, now: () => Date = () => new Date()): Promise<AgentJournal> {
    const dir = join(stateDir, JOURNAL_DIR);
    // The directory's own name must be durable before its entries (and the removal of journal.json) count on it.
    if (mkdirSync(dir, { recursive: true, mode: 0o700 }) !== undefined) fsyncDirSync(stateDir);
    const entries = readEntryFiles(dir, (leftover) => rmSync(leftover, { force: true }));
    const legacy = readLegacyJournal(stateDir);
    if (legacy) {
      // Every entry file durable before journal.json goes: a stop in between migrates again at the next
      // start, from journal.json, which still holds every entry (the files it replaces are copies of it).
      for (const entry of legacy) {
        writeFileAtomicSync(entryFile(dir, entry.requestId), serialise(entry), 0o600);
        entries.set(entry.requestId, entry);
      }
      rmSync(join(stateDir, LEGACY_JOURNAL_FILE));
      fsyncDirSync(stateDir);
    }
    return new AgentJournal(dir, entries, now);
  }

  /**
   * The entries, read without changing anything: for `token-agent status` and tests, which run beside
   * the agent (its `*.tmp` files are writes in progress) or before an upgraded agent migrated
   * journal.json. journal.json is read first: an agent migrating meanwhile has written every entry
   * file by the time it is gone.
   */
  static async read(stateDir: string): Promise<JournalEntry[]> {
    const entries = new Map((readLegacyJournal(stateDir) ?? []).map((e): [string, JournalEntry] => [e.requestId, e]));
    for (const [requestId, entry] of readEntryFiles(join(stateDir, JOURNAL_DIR), () => undefined)) entries.set(requestId, entry);
    return [...entries.values()];
  }

  get(requestId: string): JournalEntry | undefined {
    const e = this.entries.get(requestId);
    return e ? structuredClone(e) : undefined;
  }

  /**
   * Applies a change to one entry and makes it durable before resolving. The write is synchronous:
   * for one small file the syscalls cost less than the thread-pool hops of async calls, and blocking
   * the event loop for an fsync of a few ms holds nothing that matters, as the agent handles one token
   * command at a time (the slot poll and the heartbeat can wait that long). Changes never interleave.
   */
  async update(requestId: string, tokenSerial: string, change: (entry: JournalEntry) => void): Promise<JournalEntry> {
    const file = entryFile(this.dir, requestId);
    const at = this.now().toISOString();
    const stored = this.entries.get(requestId);
    const entry: JournalEntry = stored ? structuredClone(stored) : { requestId, tokenSerial, createdAt: at, updatedAt: at };
    change(entry);
    entry.updatedAt = at;
    writeFileAtomicSync(file, serialise(entry), 0o600);
    this.entries.set(requestId, entry);
    return structuredClone(entry);
  }

  /** Every stored event not yet confirmed published, oldest entry first. */
  unpublished(): Array<{ requestId: string; tokenSerial: string; kind: 'generation' | 'generation-failure' | 'install' | 'install-failure' | 'destroy'; event: StoredEvent }> {
    const out: ReturnType<AgentJournal['unpublished']> = [];
    const entries = [...this.entries.values()].sort((a, b) => a.createdAt.localeCompare(b.createdAt));
    for (const e of entries) {
      const push = (kind: (typeof out)[number]['kind'], event: StoredEvent | undefined) => {
        if (event && !event.published) out.push({ requestId: e.requestId, tokenSerial: e.tokenSerial, kind, event: structuredClone(event) });
      };
      push('generation', e.generation?.result);
      push('generation-failure', e.generation?.failure);
      push('install', e.install?.result);
      push('install-failure', e.install?.failure);
      push('destroy', e.destroy?.result);
    }
    return out;
  }

  /** Drops (deletes the files of) entries last changed before `before` whose events were all published. */
  async prune(before: Date): Promise<number> {
    const pending = new Set(this.unpublished().map((u) => u.requestId));
    let dropped = 0;
    for (const [id, e] of this.entries) {
      const inFlight = e.generation && !e.generation.result && !e.generation.failure && e.generation.key !== 'none';
      if (new Date(e.updatedAt) < before && !pending.has(id) && !inFlight) {
        rmSync(entryFile(this.dir, id));
        this.entries.delete(id);
        dropped++;
      }
    }
    // A removal a crash undid is pruned again at the next start.
    if (dropped > 0) fsyncDirSync(this.dir);
    return dropped;
  }
}

function serialise(entry: JournalEntry): string {
  return JSON.stringify({ version: 1, entry } satisfies EntryFile, null, 1);
}

/** The request id comes from a command on the bus and names a file: only a UUID names nothing outside the directory. */
function entryFile(dir: string, requestId: string): string {
  if (!REQUEST_ID.test(requestId)) {
    throw new AppError('agent.journal-request-id', `a journal entry is named by its request id, which must be a UUID (got ${JSON.stringify(String(requestId).slice(0, 80))})`);
  }
  return join(dir, `${requestId}.json`);
}

function unreadable(file: string, error: unknown): AppError {
  return new AppError('agent.journal-unreadable', `the journal ${file} cannot be read (${(error as Error).message}); move it aside only after checking the tokens`, { cause: error });
}

/**
 * The entry files of `dir`, by request id. A `*.tmp` file is a write a crash interrupted (its entry
 * kept the content before it): never read, handed to `leftover`. Other names are not the journal's
 * (e.g. an entry a person moved aside under another name) and are left alone.
 */
function readEntryFiles(dir: string, leftover: (file: string) => void): Map<string, JournalEntry> {
  const entries = new Map<string, JournalEntry>();
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return entries;
    throw unreadable(dir, error);
  }
  for (const name of names) {
    const file = join(dir, name);
    if (name.endsWith('.tmp')) {
      leftover(file);
      continue;
    }
    const requestId = ENTRY_FILE.exec(name)?.[1];
    if (!requestId) continue;
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch (error) {
      // Pruned by the agent since the listing (a reader beside it).
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') continue;
      throw unreadable(file, error);
    }
    try {
      const parsed = JSON.parse(text) as EntryFile;
      if (parsed?.version !== 1 || parsed.entry?.requestId !== requestId) throw new Error('not an entry of this journal');
      entries.set(requestId, parsed.entry);
    } catch (error) {
      throw unreadable(file, error);
    }
  }
  return entries;
}

/** The entries of a `journal.json`, or undefined when there is none. */
function readLegacyJournal(stateDir: string): JournalEntry[] | undefined {
  const file = join(stateDir, LEGACY_JOURNAL_FILE);
  try {
    const parsed = JSON.parse(readFileSync(file, 'utf8')) as LegacyJournalFile;
    if (parsed?.version !== 1 || typeof parsed.entries !== 'object' || parsed.entries === null) throw new Error('unknown journal format');
    return Object.values(parsed.entries);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw unreadable(file, error);
  }
}

/** Work the agent started and has not finished (shown by `token-agent status`). */
export function inFlight(entry: JournalEntry): string | undefined {
  const g = entry.generation;
  if (g) {
    if (g.pin === 'initializing' || g.pin === 'changing') return 'interrupted while setting the token PIN';
    if (g.key === 'generating' && !g.result && !g.failure) return 'interrupted while generating the key pair or building its CSR';
    if (g.result && !g.result.published) return 'key generated, result not yet published';
    if (g.failure && !g.failure.published) return 'failure not yet published';
  }
  if (entry.install) {
    if (!entry.install.result && !entry.install.failure) return 'installing the certificate';
    if (entry.install.result && !entry.install.result.published) return 'certificate installed, result not yet published';
  }
  if (entry.destroy?.result && !entry.destroy.result.published) return 'key destroyed, result not yet published';
  return undefined;
}
