import 'reflect-metadata';
import { NestFactory } from '@nestjs/core';
import type { INestMicroservice } from '@nestjs/common';
import type { NatsConnection } from '@nats-io/transport-node';
import { streams, type SealingJwk } from '@thk/contracts';
import { createLogger, PinoNestLogger, type Logger } from '@thk/core';
import { JetStreamServer, MessagePublisher, PassthroughRpcExceptionFilter, connectNats, defaultStreamSpecs, provisionStreams } from '@thk/messaging';
import { AGENT_SOURCE, AgentEvents } from './commands/agent-events.js';
import type { TokenAgentConfig } from './config/agent.config.js';
import { InventoryReporter } from './inventory/inventory.reporter.js';
import { AgentJournal } from './journal/agent-journal.js';
import { SealingKey } from './sealing/sealing-key.js';
import { ensureStateDir } from './state/atomic-file.js';
import { AgentActivity } from './status/agent-activity.js';
import { AgentStatusWriter, type AgentStatus, type ConnectionState } from './status/agent-status.js';
import { TokenAgentModule } from './token-agent.module.js';
import { TokenRegistry } from './tokens/token-registry.js';

/** Finished journal entries are kept this long (a compensation may come days later). */
const JOURNAL_RETENTION_MS = 30 * 24 * 3_600_000;

export interface RunningTokenAgent {
  agentId: string;
  /** The public sealing key PINs are sealed to (also in every inventory report). */
  sealingKey: SealingJwk;
  stateDir: string;
  /** Reads the slots now and reports the inventory (tests and the CLI; the poll does it anyway). */
  reportInventory(): Promise<void>;
  status(): AgentStatus;
  close(): Promise<void>;
}

/** The durable consumer of one agent's commands, and its filter: nothing but its own subjects. */
export function agentConsumer(agentId: string, ackWaitSeconds: number) {
  return { stream: streams.agents.name, durable: `agent-${agentId}`, filterSubject: `agent.${agentId}.cmd.>`, concurrency: 1, ackWaitMs: ackWaitSeconds * 1_000 };
}

/**
 * Starts the token agent: sealing key, journal, PKCS#11 modules, NATS; publishes what a crash left
 * unpublished; reports the inventory; then consumes its commands. Used by `main.ts`, the tests and
 * the local stack.
 */
export async function startTokenAgent(config: TokenAgentConfig, options: { logger?: Logger } = {}): Promise<RunningTokenAgent> {
  const now = config.now ?? (() => new Date());
  const logger = (options.logger ?? createLogger('token-agent')).child({ agentId: config.agentId });
  await ensureStateDir(config.stateDir);
  const sealing = await SealingKey.loadOrCreate(config.stateDir, { now, logger });
  const journal = await AgentJournal.open(config.stateDir, now);
  const pruned = await journal.prune(new Date(now().getTime() - JOURNAL_RETENTION_MS));
  if (pruned > 0) logger.info({ pruned }, 'pruned finished journal entries');
  const registry = TokenRegistry.open(config.modules, { rescan: config.rescan, logger });
  const activity = new AgentActivity(now);
  const statusWriter = new AgentStatusWriter(config.stateDir, {
    agentId: config.agentId, pid: process.pid, startedAt: now().toISOString(), running: true, modules: config.modules,
    nats: { state: 'connecting', server: null, since: now().toISOString() }, tokens: [], scannedAt: null, reportedAt: null, lastError: null, activity: [],
  }, now);
  activity.onChange(() => statusWriter.update({ activity: activity.list() }));

  let nc: NatsConnection | undefined;
  let app: INestMicroservice | undefined;
  let inventory: InventoryReporter | undefined;
  try {
    nc = await connectNats(config.nats);
    const connection = nc;
    statusWriter.update({ nats: { state: 'connected', server: connection.getServer(), since: now().toISOString() } });
    void watchConnection(connection, (state) => statusWriter.update({ nats: { state, server: connection.getServer(), since: now().toISOString() } }));
    if (config.provisionStreams) await provisionStreams(connection, defaultStreamSpecs());

    const publisher = new MessagePublisher(connection);
    const events = new AgentEvents(config.agentId, publisher, journal, logger);
    const recovered = await events.publishPending();
    if (recovered > 0) logger.info({ recovered }, 'published results that an earlier run had journaled but not published');

    inventory = new InventoryReporter(config, registry, sealing, publisher, logger);
    const reporter = inventory;
    reporter.onChange(() => {
      const s = reporter.snapshot;
      statusWriter.update({ tokens: s.tokens, scannedAt: s.scannedAt ?? null, reportedAt: s.reportedAt ?? null, lastError: s.lastError ?? null });
    });
    await reporter.start();

    const server = new JetStreamServer({
      service: AGENT_SOURCE, connection, rpc: false, logger: logger.child({ component: 'jetstream' }),
      consumers: [agentConsumer(config.agentId, config.ackWaitSeconds)],
    });
    app = await NestFactory.createMicroservice(TokenAgentModule.register({ config, registry, journal, sealing, events, activity, logger }), {
      strategy: server, logger: new PinoNestLogger(logger), bufferLogs: false,
    });
    app.useGlobalFilters(new PassthroughRpcExceptionFilter());
    await app.listen();
    logger.info({ modules: config.modules, tokens: reporter.snapshot.tokens.map((t) => t.serial), stateDir: config.stateDir }, 'token agent is up');
  } catch (error) {
    await inventory?.stop().catch(() => undefined);
    await app?.close().catch(() => undefined);
    await nc?.drain().catch(() => undefined);
    await statusWriter.close();
    registry.close();
    throw error;
  }

  let closing: Promise<void> | undefined;
  const runningApp = app;
  const runningInventory = inventory;
  const connection = nc;
  return {
    agentId: config.agentId,
    sealingKey: sealing.publicJwk,
    stateDir: config.stateDir,
    reportInventory: () => runningInventory.scan(true),
    status: () => statusWriter.current,
    close: () => (closing ??= (async () => {
      await runningInventory.stop();
      await runningApp.close();
      await connection.drain().catch(() => undefined);
      await statusWriter.close();
      registry.close();
      logger.info('token agent stopped');
    })()),
  };
}

async function watchConnection(nc: NatsConnection, report: (state: ConnectionState) => void): Promise<void> {
  try {
    for await (const s of nc.status()) {
      if (s.type === 'disconnect') report('disconnected');
      else if (s.type === 'reconnecting') report('reconnecting');
      else if (s.type === 'reconnect') report('connected');
      else if (s.type === 'close') report('closed');
    }
  } catch {
    // The status iterator ends with the connection.
  }
}
