import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  FindHardwareKeyRequestByIdempotencyKeyV1, RequestTemporaryHardwareKeyV1, TokenKeyDestroyedV1, envelopeSchema, findMessageContract, messageContracts,
  rpcContracts, streamForSubject, subjectMatches, temporaryHardwareKeyRequestBody,
} from './index.js';

const fixturesDir = join(dirname(fileURLToPath(import.meta.url)), '__fixtures__');
const kebab = (s: string) => s.replace(/(?<!^)(?=[A-Z])/g, '-').toLowerCase();
const rpcFixturesDir = join(fixturesDir, 'rpc');
/** `<context>.rpc.<name>.v<N>` → `<name>.v<N>`: the stem of an RPC's two fixtures. */
const rpcStem = (subject: string) => subject.split('.').slice(2).join('.');
const loadRpc = (subject: string, part: 'request' | 'response') =>
  JSON.parse(readFileSync(join(rpcFixturesDir, `${rpcStem(subject)}.${part}.json`), 'utf8')) as Record<string, unknown>;
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

  describe('RPC fixtures', () => {
    const rpcs = rpcContracts.map((r) => [r.subject, r] as const);

    it('has a request and a response fixture per RPC, and none without an RPC', () => {
      const stems = rpcContracts.map((r) => rpcStem(r.subject));
      expect(new Set(stems).size).toBe(stems.length);
      const expected = stems.flatMap((s) => [`${s}.request.json`, `${s}.response.json`]).sort();
      expect(readdirSync(rpcFixturesDir).filter((f) => f.endsWith('.json')).sort()).toEqual(expected);
    });

    it.each(rpcs)('%s: the request fixture passes the request schema', (subject, rpc) => {
      expect(rpc.request.safeParse(loadRpc(subject, 'request')).error?.issues ?? []).toEqual([]);
    });

    it.each(rpcs)('%s: the response fixture passes the response schema', (subject, rpc) => {
      expect(rpc.response.safeParse(loadRpc(subject, 'response')).error?.issues ?? []).toEqual([]);
    });

    it.each(rpcs)('%s: a request with an unknown field, or without its first field, is refused', (subject, rpc) => {
      const request = loadRpc(subject, 'request');
      expect(rpc.request.safeParse({ ...request, unexpected: 1 }).success).toBe(false);
      const firstKey = Object.keys(request)[0];
      if (firstKey === undefined) return; // an empty request ({}): only strictness to check
      const missing = { ...request };
      delete missing[firstKey];
      expect(rpc.request.safeParse(missing).success).toBe(false);
    });

    it.each(rpcs)('%s: a response with an unknown field is refused', (subject, rpc) => {
      expect(rpc.response.safeParse({ ...loadRpc(subject, 'response'), unexpected: 1 }).success).toBe(false);
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

  describe('FindHardwareKeyRequestByIdempotencyKey v1', () => {
    const userId = '7d9f3c1e-2b4a-4c8e-9f1a-3b5c7d9e1f2a';
    const reply = { requestId: '1c2d3e4f-5a6b-4c7d-8e9f-0a1b2c3d4e5f', status: 'key-generating', validity: { notBefore: '2021-08-25T13:59:00.000Z', notAfter: '2022-08-25T13:21:00.000Z', capped: false } };
    const jwe = 'eyJhbGciOiJFQ0RILUVTIiwiZW5jIjoiQTI1NkdDTSJ9..aXZpdml2aXZpdg.bmV3LXBpbg.dGFndGFndGFn';

    it('is registered, under issuance.rpc, answering idempotency-conflict', () => {
      expect(rpcContracts).toContain(FindHardwareKeyRequestByIdempotencyKeyV1);
      expect(FindHardwareKeyRequestByIdempotencyKeyV1.subject).toBe('issuance.rpc.find-hardware-key-request-by-idempotency-key.v1');
      expect(FindHardwareKeyRequestByIdempotencyKeyV1.errors).toEqual(['idempotency-conflict']);
    });

    it('takes any body and any path key id, but a user UUID and an Idempotency-Key of 1–200 characters', () => {
      const { request } = FindHardwareKeyRequestByIdempotencyKeyV1;
      const ok = { userId, idempotencyKey: 'k', baseKeyId: 'not-a-key', body: { anything: [1, null] } };
      expect(request.safeParse(ok).success).toBe(true);
      expect(request.safeParse({ ...ok, body: null }).success).toBe(true);
      expect(request.safeParse({ ...ok, idempotencyKey: 'k'.repeat(200) }).success).toBe(true);
      expect(request.safeParse({ ...ok, idempotencyKey: '' }).success).toBe(false);
      expect(request.safeParse({ ...ok, idempotencyKey: 'k'.repeat(201) }).success).toBe(false);
      expect(request.safeParse({ ...ok, userId: 'someone' }).success).toBe(false);
      expect(request.safeParse({ ...ok, baseKeyId: 'k'.repeat(201) }).success).toBe(false);
      expect(request.safeParse({ ...ok, extra: 1 }).success).toBe(false);
    });

    it('answers unseen, or seen with the reply RequestTemporaryHardwareKey answers', () => {
      const { response } = FindHardwareKeyRequestByIdempotencyKeyV1;
      expect(response.safeParse({ seen: false }).success).toBe(true);
      expect(response.safeParse({ seen: true, reply }).success).toBe(true);
      expect(RequestTemporaryHardwareKeyV1.response.safeParse(reply).success).toBe(true);
      expect(response.safeParse({ seen: true }).success).toBe(false);
      expect(response.safeParse({ seen: false, reply }).success).toBe(false);
      expect(response.safeParse({ seen: true, reply: { ...reply, extra: 1 } }).success).toBe(false);
    });

    it('judges the body as api.md\'s forming body: the start request\'s fields, the two optional ones absent rather than null', () => {
      const body = { validity: 'base', tokenId: 'agent-1:220771', cloudKeyPassword: 'p', newKeyPassword: jwe };
      expect(temporaryHardwareKeyRequestBody.safeParse(body).success).toBe(true);
      expect(temporaryHardwareKeyRequestBody.safeParse({ ...body, currentTokenPassword: jwe, algorithm: 'RSA-2048' }).success).toBe(true);
      expect(temporaryHardwareKeyRequestBody.safeParse({ ...body, currentTokenPassword: null }).success).toBe(false);
      expect(temporaryHardwareKeyRequestBody.safeParse({ ...body, validity: 'P1Y' }).success).toBe(false);
      expect(temporaryHardwareKeyRequestBody.safeParse({ ...body, userId }).success).toBe(false);
      expect(temporaryHardwareKeyRequestBody.safeParse({ ...body, cloudKeyPassword: 'p'.repeat(257) }).success).toBe(false);
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
