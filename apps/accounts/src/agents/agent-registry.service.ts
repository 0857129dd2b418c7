import type { AgentInventoryReportedV1, Envelope, TokenView } from '@thk/contracts';
import { AppError, createLogger, type Logger } from '@thk/core';
import type { UnitOfWork } from '@thk/persistence';
import type { DataSource } from 'typeorm';
import { AgentEntity, UserEntity } from '../persistence/index.js';

export const AGENT_INVENTORY_DURABLE = 'accounts-agent-inventory';
/** An agent is online while its last inventory is younger than this many heartbeats. */
export const ONLINE_HEARTBEATS = 3;

/** `<serial>(<model or label>)`, as the seed shows a token: `220771(е.ключ IIT Алмаз-1К)`. */
export function tokenDisplay(token: { serial: string; model: string; label: string }): string {
  const name = token.model.trim() || token.label.trim();
  return name ? `${token.serial}(${name})` : token.serial;
}

export function tokenIdOf(agentId: string, serial: string): string {
  return `${agentId}:${serial}`;
}

/**
 * Which agent belongs to which user, the key it seals passwords to, and the tokens it last saw.
 * Online is derived from the newest inventory (sent at start, on change, and as a heartbeat).
 */
export class AgentRegistry {
  private readonly log: Logger;

  constructor(private readonly ds: DataSource, private readonly uow: UnitOfWork, private readonly clock: () => Date, logger?: Logger) {
    this.log = logger ?? createLogger('accounts:agents');
  }

  async register(agentId: string, userId: string): Promise<{ agentId: string; userId: string; registeredAt: string }> {
    const user = await this.ds.manager.findOneBy(UserEntity, { id: userId });
    if (!user) throw new AppError('not-found', 'no such user', { meta: { userId } });
    await this.ds.query('INSERT INTO agents (agent_id, user_id, registered_at) VALUES ($1, $2, $3) ON CONFLICT (agent_id) DO NOTHING', [agentId, userId, this.clock()]);
    const agent = await this.ds.manager.findOneByOrFail(AgentEntity, { agentId });
    if (agent.userId !== userId) throw new AppError('conflict', 'this agent is registered to another user', { meta: { agentId } });
    return { agentId, userId, registeredAt: agent.registeredAt.toISOString() };
  }

  /**
   * Records an agent's inventory. `publisherAgentId` is the agent of the subject it came on, which
   * NATS permissions tie to that agent's credentials: an inventory naming another agent is forged.
   */
  async inventoryReported(envelope: Envelope<AgentInventoryReportedV1>, publisherAgentId: string | undefined): Promise<boolean> {
    const d = envelope.data;
    if (publisherAgentId !== d.agentId) {
      throw new AppError('accounts.agent-mismatch', `inventory of agent ${d.agentId} arrived on the subject of agent ${publisherAgentId ?? '(none)'}`, { meta: { agentId: d.agentId } });
    }
    const now = this.clock();
    const reportedAt = new Date(d.reportedAt);
    // An agent's clock may run ahead: never trust a report from the future beyond our own now.
    const seen = reportedAt.getTime() > now.getTime() ? now : reportedAt;
    const result = await this.uow.run(async (tx) => {
      const updated: unknown[] = await tx.manager.query(
        `WITH u AS (UPDATE agents SET sealing_key = $2, tokens = $3, heartbeat_seconds = $4, last_reported_at = $5
          WHERE agent_id = $1 AND (last_reported_at IS NULL OR last_reported_at <= $5) RETURNING agent_id) SELECT agent_id FROM u`,
        [d.agentId, JSON.stringify(d.sealingKey), JSON.stringify(d.tokens), d.heartbeatSeconds, seen],
      );
      return updated.length;
    }, { inbox: { consumer: AGENT_INVENTORY_DURABLE, messageId: envelope.id } });
    if (result.applied && result.value === 0) {
      const known = await this.ds.manager.existsBy(AgentEntity, { agentId: d.agentId });
      if (!known) this.log.warn({ agentId: d.agentId }, 'inventory from an unregistered agent ignored');
    }
    return result.applied;
  }

  /** api.md `Token`s of the user's online agents. */
  async listTokens(userId: string): Promise<TokenView[]> {
    const agents = await this.ds.manager.find(AgentEntity, { where: { userId }, order: { agentId: 'ASC' } });
    const now = this.clock();
    return agents.filter((a) => isOnline(a, now)).flatMap((a) => a.tokens.map((t) => ({
      tokenId: tokenIdOf(a.agentId, t.serial),
      agentId: a.agentId,
      serial: t.serial,
      model: t.model,
      label: t.label,
      display: tokenDisplay(t),
      userPinInitialized: t.userPinInitialized,
      algorithms: t.algorithms,
      agentKey: a.sealingKey!,
    })));
  }

  /** The user's token behind `tokenId`, if its agent is online now; otherwise `token-unavailable`. */
  async getUserToken(userId: string, tokenId: string): Promise<TokenView> {
    const token = (await this.listTokens(userId)).find((t) => t.tokenId === tokenId);
    if (!token) throw new AppError('token-unavailable', 'no such token is online for this user', { meta: { tokenId } });
    return token;
  }
}

export function isOnline(agent: Pick<AgentEntity, 'lastReportedAt' | 'heartbeatSeconds' | 'sealingKey'>, now: Date): boolean {
  if (!agent.lastReportedAt || !agent.heartbeatSeconds || !agent.sealingKey) return false;
  return now.getTime() - agent.lastReportedAt.getTime() <= ONLINE_HEARTBEATS * agent.heartbeatSeconds * 1_000;
}
