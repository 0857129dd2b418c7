import { AgentJournal, inFlight } from '../journal/agent-journal.js';
import { readAgentStatus, type AgentStatus } from '../status/agent-status.js';
import { tokenLine } from './token-lines.js';

export interface StatusReport {
  status: AgentStatus | undefined;
  alive: boolean;
  pendingWork: Array<{ requestId: string; tokenSerial: string; what: string; since: string }>;
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Reads what the running agent wrote to its state directory, and its journal's unfinished work. */
export async function readStatusReport(stateDir: string): Promise<StatusReport> {
  const status = await readAgentStatus(stateDir);
  const alive = !!status && status.running && processAlive(status.pid);
  let pendingWork: StatusReport['pendingWork'] = [];
  try {
    // Read only: the agent may be running, and only it removes its temp files or migrates journal.json.
    pendingWork = (await AgentJournal.read(stateDir)).flatMap((e) => {
      const what = inFlight(e);
      return what ? [{ requestId: e.requestId, tokenSerial: e.tokenSerial, what, since: e.updatedAt }] : [];
    });
  } catch (error) {
    pendingWork = [{ requestId: '-', tokenSerial: '-', what: (error as Error).message, since: '' }];
  }
  return { status, alive, pendingWork };
}

export function formatStatus(report: StatusReport, now: Date = new Date()): string {
  const { status, alive } = report;
  const lines: string[] = [];
  if (!status) {
    lines.push('The agent has not run with this state directory yet.');
  } else {
    const state = alive ? `running (pid ${status.pid}) since ${status.startedAt}` : status.running ? `not running (pid ${status.pid} stopped without shutting down)` : `stopped (last run started ${status.startedAt})`;
    lines.push(`Agent ${status.agentId}: ${state}`);
    if (alive) {
      lines.push(`Connection: ${status.nats.state}${status.nats.server ? ` to ${status.nats.server}` : ''} since ${status.nats.since}`);
      const age = Math.round((now.getTime() - new Date(status.updatedAt).getTime()) / 1_000);
      lines.push(`Inventory: last reported ${status.reportedAt ?? 'never'}; status written ${age} s ago${status.lastError ? `; last error: ${status.lastError}` : ''}`);
    }
    lines.push(status.tokens.length === 0 ? 'Tokens: none' : `Tokens (${status.tokens.length}):`);
    for (const t of status.tokens) lines.push(tokenLine(t));
    if (alive && status.activity.length > 0) {
      lines.push('Working on:');
      for (const a of status.activity) lines.push(`  ${a.kind} for request ${a.requestId} on token ${a.tokenSerial} since ${a.since}`);
    }
  }
  if (report.pendingWork.length > 0) {
    lines.push('Unfinished work in the journal:');
    for (const p of report.pendingWork) lines.push(`  request ${p.requestId} on token ${p.tokenSerial}: ${p.what}${p.since ? ` (since ${p.since})` : ''}`);
  } else {
    lines.push('No unfinished work.');
  }
  return lines.join('\n');
}
