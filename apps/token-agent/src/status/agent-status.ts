import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { InventoryToken } from '@thk/contracts';
import { writeFileAtomic } from '../state/atomic-file.js';
import type { Activity } from './agent-activity.js';

export const STATUS_FILE = 'status.json';

export type ConnectionState = 'connecting' | 'connected' | 'disconnected' | 'reconnecting' | 'closed';

/** What `token-agent run` tells `token-agent status` (a file in the state directory; no secret in it). */
export interface AgentStatus {
  agentId: string;
  pid: number;
  startedAt: string;
  updatedAt: string;
  running: boolean;
  modules: string[];
  nats: { state: ConnectionState; server: string | null; since: string };
  tokens: InventoryToken[];
  scannedAt: string | null;
  reportedAt: string | null;
  lastError: string | null;
  activity: Activity[];
}

/** Keeps `status.json` current: written on every change (coalesced) and at least every `refreshMs`. */
export class AgentStatusWriter {
  private status: AgentStatus;
  private pending: NodeJS.Timeout | undefined;
  private writing: Promise<void> = Promise.resolve();
  private refresh: NodeJS.Timeout | undefined;

  constructor(private readonly stateDir: string, initial: Omit<AgentStatus, 'updatedAt'>, private readonly now: () => Date = () => new Date(), refreshMs = 5_000) {
    this.status = { ...initial, updatedAt: now().toISOString() };
    this.refresh = setInterval(() => this.schedule(), refreshMs);
    this.refresh.unref();
  }

  get current(): AgentStatus {
    return structuredClone(this.status);
  }

  update(change: Partial<Omit<AgentStatus, 'updatedAt'>>): void {
    this.status = { ...this.status, ...change };
    this.schedule();
  }

  private schedule(): void {
    if (this.pending) return;
    this.pending = setTimeout(() => {
      this.pending = undefined;
      void this.flush();
    }, 50);
    this.pending.unref();
  }

  flush(): Promise<void> {
    const snapshot = { ...this.status, updatedAt: this.now().toISOString() };
    this.writing = this.writing.then(() => writeFileAtomic(join(this.stateDir, STATUS_FILE), JSON.stringify(snapshot, null, 2), 0o600)).catch(() => undefined);
    return this.writing;
  }

  async close(): Promise<void> {
    if (this.refresh) clearInterval(this.refresh);
    if (this.pending) clearTimeout(this.pending);
    this.pending = undefined;
    this.status = { ...this.status, running: false, activity: [], nats: { ...this.status.nats, state: 'closed', since: this.now().toISOString() } };
    await this.flush();
  }
}

export async function readAgentStatus(stateDir: string): Promise<AgentStatus | undefined> {
  try {
    return JSON.parse(await readFile(join(stateDir, STATUS_FILE), 'utf8')) as AgentStatus;
  } catch {
    return undefined;
  }
}
