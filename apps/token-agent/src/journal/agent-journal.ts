import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Envelope, KeyAlgorithm } from '@thk/contracts';
import { AppError } from '@thk/core';
import { writeFileAtomic } from '../state/atomic-file.js';

export const JOURNAL_FILE = 'journal.json';

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

interface JournalFile { version: 1; entries: Record<string, JournalEntry> }

/**
 * The agent's local journal: one JSON document, rewritten atomically (temp file, fsync, rename) on
 * every step, so that a crash at any point leaves the last completed step. Small by nature: a
 * workstation forms a handful of keys; finished entries are pruned after a retention period.
 */
export class AgentJournal {
  private queue: Promise<unknown> = Promise.resolve();

  private constructor(private readonly file: string, private data: JournalFile, private readonly now: () => Date) {}

  static async open(stateDir: string, now: () => Date = () => new Date()): Promise<AgentJournal> {
    const file = join(stateDir, JOURNAL_FILE);
    let data: JournalFile = { version: 1, entries: {} };
    try {
      const parsed = JSON.parse(await readFile(file, 'utf8')) as JournalFile;
      if (parsed?.version !== 1 || typeof parsed.entries !== 'object') throw new Error('unknown journal format');
      data = parsed;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') {
        // Starting empty would forget keys this agent made: refuse, and let a person look.
        throw new AppError('agent.journal-unreadable', `the journal ${file} cannot be read (${(error as Error).message}); move it aside only after checking the tokens`);
      }
    }
    return new AgentJournal(file, data, now);
  }

  get path(): string {
    return this.file;
  }

  get(requestId: string): JournalEntry | undefined {
    const e = this.data.entries[requestId];
    return e ? structuredClone(e) : undefined;
  }

  all(): JournalEntry[] {
    return Object.values(this.data.entries).map((e) => structuredClone(e));
  }

  /** Applies a change to one entry and makes it durable before resolving. Changes run one at a time. */
  update(requestId: string, tokenSerial: string, change: (entry: JournalEntry) => void): Promise<JournalEntry> {
    const run = async () => {
      const at = this.now().toISOString();
      const entry: JournalEntry = structuredClone(this.data.entries[requestId]) ?? { requestId, tokenSerial, createdAt: at, updatedAt: at };
      change(entry);
      entry.updatedAt = at;
      const next: JournalFile = { version: 1, entries: { ...this.data.entries, [requestId]: entry } };
      await writeFileAtomic(this.file, JSON.stringify(next, null, 1), 0o600);
      this.data = next;
      return structuredClone(entry);
    };
    const result = this.queue.then(run, run);
    this.queue = result.catch(() => undefined);
    return result;
  }

  /** Every stored event not yet confirmed published, oldest entry first. */
  unpublished(): Array<{ requestId: string; tokenSerial: string; kind: 'generation' | 'generation-failure' | 'install' | 'install-failure' | 'destroy'; event: StoredEvent }> {
    const out: ReturnType<AgentJournal['unpublished']> = [];
    const entries = Object.values(this.data.entries).sort((a, b) => a.createdAt.localeCompare(b.createdAt));
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

  /** Drops entries last changed before `before` whose events were all published. */
  async prune(before: Date): Promise<number> {
    const run = async () => {
      const keep: Record<string, JournalEntry> = {};
      let dropped = 0;
      const pending = new Set(this.unpublished().map((u) => u.requestId));
      for (const [id, e] of Object.entries(this.data.entries)) {
        const inFlight = e.generation && !e.generation.result && !e.generation.failure && e.generation.key !== 'none';
        if (new Date(e.updatedAt) < before && !pending.has(id) && !inFlight) dropped++;
        else keep[id] = e;
      }
      if (dropped === 0) return 0;
      const next: JournalFile = { version: 1, entries: keep };
      await writeFileAtomic(this.file, JSON.stringify(next, null, 1), 0o600);
      this.data = next;
      return dropped;
    };
    const result = this.queue.then(run, run);
    this.queue = result.catch(() => undefined);
    return result;
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
