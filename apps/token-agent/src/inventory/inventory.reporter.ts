import { randomUUID } from 'node:crypto';
import { AgentInventoryReportedV1, type InventoryToken } from '@thk/contracts';
import type { Logger } from '@thk/core';
import type { MessagePublisher } from '@thk/messaging';
import type { TokenAgentConfig } from '../config/agent.config.js';
import type { SealingKey } from '../sealing/sealing-key.js';
import { inventoryToken, type TokenRegistry } from '../tokens/token-registry.js';
import { AGENT_SOURCE } from '../commands/agent-events.js';

export interface InventorySnapshot {
  tokens: InventoryToken[];
  /** When the slot list was last read, and when an inventory was last published. */
  scannedAt: string | undefined;
  reportedAt: string | undefined;
  lastError: string | undefined;
}

/**
 * Reports the agent's tokens (with their PIN state and algorithms) and its public sealing key:
 * at start, whenever the slot poll sees a change (a token inserted or removed, a PIN state
 * changed), and as a heartbeat from which the server derives "online".
 */
export class InventoryReporter {
  private pollTimer: NodeJS.Timeout | undefined;
  private heartbeatTimer: NodeJS.Timeout | undefined;
  private fingerprint = '';
  private running: Promise<void> | undefined;
  private stopped = false;
  private readonly state: InventorySnapshot = { tokens: [], scannedAt: undefined, reportedAt: undefined, lastError: undefined };
  private listener: (() => void) | undefined;

  constructor(
    private readonly config: TokenAgentConfig,
    private readonly registry: TokenRegistry,
    private readonly sealing: SealingKey,
    private readonly publisher: MessagePublisher,
    private readonly logger: Logger,
  ) {}

  get snapshot(): InventorySnapshot {
    return structuredClone(this.state);
  }

  onChange(listener: () => void): void {
    this.listener = listener;
  }

  async start(): Promise<void> {
    await this.scan(true);
    this.pollTimer = setInterval(() => void this.tick(false), this.config.pollIntervalMs);
    this.heartbeatTimer = setInterval(() => void this.tick(true), this.config.heartbeatSeconds * 1_000);
    this.pollTimer.unref();
    this.heartbeatTimer.unref();
  }

  /** Reads the slots now and reports if anything changed (or `force`). */
  async scan(force = false): Promise<void> {
    const tokens = await this.registry.exclusive(async () => this.registry.list().map(inventoryToken));
    tokens.sort((a, b) => a.serial.localeCompare(b.serial));
    this.state.tokens = tokens;
    this.state.scannedAt = this.now().toISOString();
    const fingerprint = JSON.stringify(tokens);
    const changed = fingerprint !== this.fingerprint;
    if (changed && this.fingerprint !== '') this.logger.info({ tokens: tokens.map((t) => t.serial) }, 'tokens changed');
    if (changed || force) {
      await this.report(tokens);
      this.fingerprint = fingerprint;
    }
    this.listener?.();
  }

  private async tick(force: boolean): Promise<void> {
    if (this.stopped || this.running) return;
    this.running = this.scan(force)
      .then(() => { this.state.lastError = undefined; })
      .catch((error: unknown) => {
        // NATS down or a module hiccup: keep polling; the next tick reports the current state.
        this.state.lastError = (error as Error).message;
        this.logger.warn({ err: error }, 'inventory scan or report failed');
        this.listener?.();
      })
      .finally(() => { this.running = undefined; });
    await this.running;
  }

  private async report(tokens: InventoryToken[]): Promise<void> {
    const reportedAt = this.now();
    await this.publisher.emit(AgentInventoryReportedV1, { agentId: this.config.agentId }, {
      agentId: this.config.agentId,
      reportedAt: reportedAt.toISOString(),
      heartbeatSeconds: this.config.heartbeatSeconds,
      sealingKey: this.sealing.publicJwk,
      tokens,
    }, { source: AGENT_SOURCE, correlationId: `agent:${this.config.agentId}`, id: randomUUID(), occurredAt: reportedAt });
    this.state.reportedAt = reportedAt.toISOString();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.pollTimer) clearInterval(this.pollTimer);
    if (this.heartbeatTimer) clearInterval(this.heartbeatTimer);
    await this.running;
  }

  private now(): Date {
    return this.config.now?.() ?? new Date();
  }
}
