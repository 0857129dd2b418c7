import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { TokenKeyDestroyedV1, envelopeSchema, findMessageContract, messageContracts, rpcContracts, streamForSubject, subjectMatches } from './index.js';

const fixturesDir = join(dirname(fileURLToPath(import.meta.url)), '__fixtures__');
const kebab = (s: string) => s.replace(/(?<!^)(?=[A-Z])/g, '-').toLowerCase();
const load = (file: string) => JSON.parse(readFileSync(join(fixturesDir, file), 'utf8')) as { type: string; version: number; data: Record<string, unknown> };

describe('contracts', () => {
  describe('fixtures', () => {
    it('has one fixture per message contract, and none without a contract', () => {
      const expected = messageContracts.map((c) => `${kebab(c.type)}.v${c.version}.json`).sort();
      expect(readdirSync(fixturesDir).filter((f) => f.endsWith('.json')).sort()).toEqual(expected);
    });

    it.each(messageContracts.map((c) => [c.type, c] as const))('%s: the fixture passes the envelope and data schemas', (_type, contract) => {
      const fixture = load(`${kebab(contract.type)}.v${contract.version}.json`);
      expect(envelopeSchema.safeParse(fixture).success).toBe(true);
      expect(fixture.type).toBe(contract.type);
      const result = contract.schema.safeParse(fixture.data);
      expect(result.error?.issues ?? []).toEqual([]);
    });

    it.each(messageContracts.map((c) => [c.type, c] as const))('%s: a fixture of the wrong shape fails', (_type, contract) => {
      const fixture = load(`${kebab(contract.type)}.v${contract.version}.json`);
      const firstKey = Object.keys(fixture.data)[0]!;
      const missing = { ...fixture.data };
      delete missing[firstKey];
      expect(contract.schema.safeParse(missing).success).toBe(false);
      expect(contract.schema.safeParse({ ...fixture.data, unexpected: 1 }).success).toBe(false);
      expect(contract.schema.safeParse({ ...fixture.data, [firstKey]: { nested: true } }).success).toBe(false);
    });
  });

  describe('TokenKeyDestroyed v1: privateKeyRemaining (optional)', () => {
    const { data } = load('token-key-destroyed.v1.json');
    const { privateKeyRemaining, ...withoutIt } = data as { privateKeyRemaining: { code: string; message: string } };

    it('still accepts an event without it (agents that predate the field, or nothing private left)', () => {
      expect(TokenKeyDestroyedV1.schema.safeParse(withoutIt).success).toBe(true);
    });

    it('takes a known code and a message, nothing else', () => {
      expect(TokenKeyDestroyedV1.schema.safeParse({ ...withoutIt, privateKeyRemaining: { ...privateKeyRemaining, code: 'token-password-unknown' } }).success).toBe(true);
      expect(TokenKeyDestroyedV1.schema.safeParse({ ...withoutIt, privateKeyRemaining: { ...privateKeyRemaining, code: 'gone-fishing' } }).success).toBe(false);
      expect(TokenKeyDestroyedV1.schema.safeParse({ ...withoutIt, privateKeyRemaining: { code: privateKeyRemaining.code } }).success).toBe(false);
      expect(TokenKeyDestroyedV1.schema.safeParse({ ...withoutIt, privateKeyRemaining: { ...privateKeyRemaining, pin: 'x' } }).success).toBe(false);
      expect(TokenKeyDestroyedV1.schema.safeParse({ ...withoutIt, privateKeyRemaining: true }).success).toBe(false);
    });
  });

  describe('subjects', () => {
    it('follows <context>.evt|cmd.<kebab-name>.v<N>, agent messages under agent.<id>', () => {
      for (const c of messageContracts) {
        const part = c.kind === 'event' ? 'evt' : 'cmd';
        expect(c.subjectPattern).toMatch(new RegExp(`^(issuance|ca|accounts|agent\\.\\*)\\.${part}\\.[a-z0-9-]+\\.v${c.version}$`));
        const concrete = c.subject({ agentId: 'demo-agent' } as never);
        expect(subjectMatches(c.subjectPattern, concrete)).toBe(true);
        expect(streamForSubject(concrete)).toBeDefined();
      }
    });

    it('keeps RPC subjects out of every stream (they may carry passwords)', () => {
      for (const r of rpcContracts) {
        expect(r.subject).toMatch(/^[a-z-]+\.rpc\.[a-z0-9-]+\.v\d+$/);
        expect(streamForSubject(r.subject)).toBeUndefined();
      }
    });

    it('gives every message type and version one contract', () => {
      const keys = messageContracts.map((c) => `${c.type}@${c.version}`);
      expect(new Set(keys).size).toBe(keys.length);
      expect(findMessageContract('TokenKeyGenerated', 1)?.contract.type).toBe('TokenKeyGenerated');
      expect(findMessageContract('TokenKeyGenerated', 99)).toBeUndefined();
    });
  });

  describe('subjectMatches', () => {
    it.each([
      ['agent.*.evt.x.v1', 'agent.a1.evt.x.v1', true],
      ['agent.*.evt.x.v1', 'agent.a1.b.evt.x.v1', false],
      ['issuance.evt.>', 'issuance.evt.a.v1', true],
      ['issuance.evt.>', 'issuance.evt', false],
      ['ca.cmd.issue-certificate.v1', 'ca.cmd.issue-certificate.v2', false],
    ])('%s vs %s → %s', (pattern, subject, expected) => {
      expect(subjectMatches(pattern, subject)).toBe(expected);
    });
  });
});
