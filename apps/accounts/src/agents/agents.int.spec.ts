import { jetstreamManager } from '@nats-io/jetstream';
import { AgentInventoryReportedV1, GetUserTokenV1, ListTokensV1, RegisterAgentV1, type AgentInventoryReportedV1 as Inventory } from '@thk/contracts';
import type { DeadLetter } from '@thk/messaging';
import { randomUUID } from 'node:crypto';
import { eventually, startHarness, type Harness } from '../testing/accounts-harness.js';
import { seedUser } from '../testing/seed.js';
import { AGENT_INVENTORY_DURABLE } from './agent-registry.service.js';

const sealingKey = { kty: 'EC', crv: 'P-256', x: 'f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU', y: 'x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0', alg: 'ECDH-ES', use: 'enc', kid: 'k1' } as const;
const almaz = {
  serial: '220771', model: 'е.ключ IIT Алмаз-1К', label: '220771', manufacturer: 'IIT',
  userPinInitialized: false, userPinLocked: false, userPinCountLow: false, userPinFinalTry: false, algorithms: ['EC-P256', 'RSA-2048'] as const,
};

describe('agent registry (RegisterAgent, inventory, ListTokens, GetUserToken)', () => {
  let h: Harness;
  beforeAll(async () => { h = await startHarness('accounts_agents'); });
  afterAll(async () => { await h?.stop(); });
  afterEach(() => h.clock.reset());

  const inventory = (agentId: string, overrides: Partial<Inventory> = {}): Inventory => ({
    agentId, reportedAt: new Date().toISOString(), heartbeatSeconds: 15, sealingKey, tokens: [{ ...almaz, algorithms: [...almaz.algorithms] }], ...overrides,
  });
  const report = async (agentId: string, data: Inventory = inventory(agentId)) => {
    await h.publish(AgentInventoryReportedV1, data, { agentId });
    await h.settle('AGENTS', AGENT_INVENTORY_DURABLE);
  };

  describe('RegisterAgent', () => {
    it('binds an agent to a user once; again for the same user is fine, for another a conflict', async () => {
      const userId = await seedUser(h.accounts.dataSource);
      const other = await seedUser(h.accounts.dataSource);
      const first = await h.rpc.call(RegisterAgentV1, { agentId: 'agent-reg', userId });
      await expect(h.rpc.call(RegisterAgentV1, { agentId: 'agent-reg', userId })).resolves.toEqual(first);
      await expect(h.rpc.call(RegisterAgentV1, { agentId: 'agent-reg', userId: other })).rejects.toMatchObject({ code: 'conflict' });
      await expect(h.rpc.call(RegisterAgentV1, { agentId: 'agent-x', userId: randomUUID() })).rejects.toMatchObject({ code: 'not-found' });
    });
  });

  describe('AgentInventoryReported → ListTokens', () => {
    it('lists the tokens of an online agent in api.md\'s Token shape, and none once its heartbeats stop', async () => {
      const userId = await seedUser(h.accounts.dataSource);
      await h.rpc.call(RegisterAgentV1, { agentId: 'agent-a', userId });
      await expect(h.rpc.call(ListTokensV1, { userId })).resolves.toEqual({ items: [] });
      await report('agent-a');
      const { items } = await h.rpc.call(ListTokensV1, { userId });
      expect(items).toEqual([{
        tokenId: 'agent-a:220771', agentId: 'agent-a', serial: '220771', model: 'е.ключ IIT Алмаз-1К', label: '220771',
        display: '220771(е.ключ IIT Алмаз-1К)', userPinInitialized: false, algorithms: ['EC-P256', 'RSA-2048'], agentKey: sealingKey,
      }]);
      await expect(h.rpc.call(GetUserTokenV1, { userId, tokenId: 'agent-a:220771' })).resolves.toEqual({ token: items[0] });

      h.clock.advance(46_000); // beyond 3 × 15 s without an inventory
      await expect(h.rpc.call(ListTokensV1, { userId })).resolves.toEqual({ items: [] });
      await expect(h.rpc.call(GetUserTokenV1, { userId, tokenId: 'agent-a:220771' })).rejects.toMatchObject({ code: 'token-unavailable' });
    });

    it('answers token-unavailable for another user\'s token and an unknown one', async () => {
      const userId = await seedUser(h.accounts.dataSource);
      const stranger = await seedUser(h.accounts.dataSource);
      await h.rpc.call(RegisterAgentV1, { agentId: 'agent-b', userId });
      await report('agent-b');
      await expect(h.rpc.call(GetUserTokenV1, { userId: stranger, tokenId: 'agent-b:220771' })).rejects.toMatchObject({ code: 'token-unavailable' });
      await expect(h.rpc.call(GetUserTokenV1, { userId, tokenId: 'agent-b:999' })).rejects.toMatchObject({ code: 'token-unavailable' });
    });

    it('keeps the newest inventory when an older one arrives late, and applies a duplicate once', async () => {
      const userId = await seedUser(h.accounts.dataSource);
      await h.rpc.call(RegisterAgentV1, { agentId: 'agent-c', userId });
      const newest = inventory('agent-c', { tokens: [] });
      const envelope = await h.publish(AgentInventoryReportedV1, newest, { agentId: 'agent-c' });
      await h.settle('AGENTS', AGENT_INVENTORY_DURABLE);
      await report('agent-c', inventory('agent-c', { reportedAt: new Date(Date.now() - 10_000).toISOString() }));
      await h.republish(AgentInventoryReportedV1.subject({ agentId: 'agent-c' }), envelope);
      await h.settle('AGENTS', AGENT_INVENTORY_DURABLE);
      await expect(h.rpc.call(ListTokensV1, { userId })).resolves.toEqual({ items: [] });
      const [{ n }] = await h.accounts.dataSource.query(`SELECT count(*)::int AS n FROM inbox WHERE consumer = $1 AND message_id = $2`, [AGENT_INVENTORY_DURABLE, envelope.id]);
      expect(n).toBe(1);
    });

    it('ignores an unregistered agent: acked once, not dead-lettered, nothing recorded, no other agent touched', async () => {
      const userId = await seedUser(h.accounts.dataSource);
      await h.rpc.call(RegisterAgentV1, { agentId: 'agent-known', userId });
      await report('agent-known');
      const agentsBefore = await h.accounts.dataSource.query('SELECT a::text AS a FROM agents a ORDER BY agent_id');
      const tokensBefore = await h.rpc.call(ListTokensV1, { userId });
      expect(tokensBefore.items).toHaveLength(1);
      const jsm = await jetstreamManager(h.nc);
      const deadLetters = async () => (await jsm.streams.info('DEAD_LETTERS').catch(() => null))?.state.messages ?? 0;
      const deadBefore = await deadLetters();
      const redeliveredBefore = (await jsm.consumers.info('AGENTS', AGENT_INVENTORY_DURABLE)).num_redelivered;

      // The same token serial as the known agent's, other data: only a mix-up could make it land there.
      const stranger = inventory('agent-unknown', { tokens: [{ ...almaz, label: 'forged', userPinInitialized: true, algorithms: ['EC-P256'] }] });
      const envelope = await h.publish(AgentInventoryReportedV1, stranger, { agentId: 'agent-unknown' });
      await h.settle('AGENTS', AGENT_INVENTORY_DURABLE); // acknowledged, not waiting for a redelivery

      expect(await h.accounts.dataSource.query(`SELECT 1 FROM agents WHERE agent_id = 'agent-unknown'`)).toHaveLength(0);
      expect(await h.accounts.dataSource.query('SELECT a::text AS a FROM agents a ORDER BY agent_id')).toEqual(agentsBefore);
      await expect(h.rpc.call(ListTokensV1, { userId })).resolves.toEqual(tokensBefore);
      const [{ n }] = await h.accounts.dataSource.query(`SELECT count(*)::int AS n FROM inbox WHERE consumer = $1 AND message_id = $2`, [AGENT_INVENTORY_DURABLE, envelope.id]);
      expect(n).toBe(1);
      expect(await deadLetters()).toBe(deadBefore);
      expect((await jsm.consumers.info('AGENTS', AGENT_INVENTORY_DURABLE)).num_redelivered).toBe(redeliveredBefore);
    });

    it('dead-letters an inventory that names another agent than the subject it came on', async () => {
      const victim = await seedUser(h.accounts.dataSource);
      await h.rpc.call(RegisterAgentV1, { agentId: 'agent-victim', userId: victim });
      await h.publish(AgentInventoryReportedV1, inventory('agent-victim'), { agentId: 'agent-mallory' });
      const jsm = await jetstreamManager(h.nc);
      const info = await eventually(() => jsm.streams.info('DEAD_LETTERS'), (i) => i.state.messages >= 1);
      const letter = (await jsm.streams.getMessage('DEAD_LETTERS', { seq: info.state.last_seq }))!.json<DeadLetter>();
      expect(letter).toMatchObject({ code: 'accounts.agent-mismatch', consumer: AGENT_INVENTORY_DURABLE });
      await expect(h.rpc.call(ListTokensV1, { userId: victim })).resolves.toEqual({ items: [] });
    });
  });
});
