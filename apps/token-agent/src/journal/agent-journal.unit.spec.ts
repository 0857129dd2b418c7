import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AppError } from '@thk/core';
import { AgentJournal, inFlight, type StoredEvent } from './agent-journal.js';

const event = (id: string): StoredEvent => ({ subject: 'agent.a.evt.x.v1', envelope: { id, type: 'X', version: 1, occurredAt: '2026-01-01T00:00:00.000Z', correlationId: 'c', causationId: null, source: 'token-agent', data: {} }, published: false });

describe('AgentJournal', () => {
  let dir: string;
  let now = new Date('2026-01-01T00:00:00Z');
  beforeEach(async () => { dir = await mkdtemp(join(tmpdir(), 'thk-journal-')); now = new Date('2026-01-01T00:00:00Z'); });
  afterEach(async () => { await rm(dir, { recursive: true, force: true }); });

  describe('update', () => {
    it('makes every change durable in a 0600 file that a new instance reads back', async () => {
      const journal = await AgentJournal.open(dir, () => now);
      await journal.update('r1', 'serial-1', (e) => { e.generation = { commandId: 'c1', correlationId: 'k', algorithm: 'EC-P256', label: 'l', keyId: 'ab', pin: 'set', key: 'none' }; });
      const again = await AgentJournal.open(dir);
      expect(again.get('r1')).toMatchObject({ requestId: 'r1', tokenSerial: 'serial-1', generation: { pin: 'set', keyId: 'ab' } });
      expect(((await stat(join(dir, 'journal.json'))).mode & 0o777).toString(8)).toBe('600');
    });

    it('applies concurrent changes one after the other, losing none', async () => {
      const journal = await AgentJournal.open(dir, () => now);
      await Promise.all(Array.from({ length: 20 }, (_, i) => journal.update(`r${i}`, 's', () => undefined)));
      expect((await AgentJournal.open(dir)).all()).toHaveLength(20);
    });

    it('hands out copies: changing a returned entry changes nothing stored', async () => {
      const journal = await AgentJournal.open(dir, () => now);
      const e = await journal.update('r1', 's', () => undefined);
      e.tokenSerial = 'other';
      expect(journal.get('r1')?.tokenSerial).toBe('s');
    });
  });

  describe('open', () => {
    it('refuses a journal it cannot read rather than forgetting the keys it lists', async () => {
      await writeFile(join(dir, 'journal.json'), '{"version":1,"entries":');
      await expect(AgentJournal.open(dir)).rejects.toThrow(AppError);
      await expect(AgentJournal.open(dir)).rejects.toMatchObject({ code: 'agent.journal-unreadable' });
    });
  });

  describe('unpublished and prune', () => {
    it('lists stored events not yet published, and prunes only old entries with nothing left to publish', async () => {
      const journal = await AgentJournal.open(dir, () => now);
      await journal.update('old-done', 's', (e) => { e.destroy = { commandId: 'c', destroyedObjects: 1, result: { ...event('a'), published: true } }; });
      await journal.update('old-pending', 's', (e) => { e.destroy = { commandId: 'c', destroyedObjects: 1, result: event('b') }; });
      expect(journal.unpublished().map((u) => [u.requestId, u.kind])).toEqual([['old-pending', 'destroy']]);
      now = new Date('2026-03-01T00:00:00Z');
      await journal.update('recent', 's', () => undefined);
      expect(await journal.prune(new Date('2026-02-01T00:00:00Z'))).toBe(1);
      expect(journal.all().map((e) => e.requestId).sort()).toEqual(['old-pending', 'recent']);
      expect(JSON.parse(await readFile(join(dir, 'journal.json'), 'utf8')).entries).not.toHaveProperty('old-done');
    });
  });
});

describe('inFlight', () => {
  const base = { requestId: 'r', tokenSerial: 's', createdAt: '', updatedAt: '' };
  const g = { commandId: 'c', correlationId: 'k', algorithm: 'EC-P256' as const, label: 'l', keyId: 'ab' };
  it.each([
    [{ ...g, pin: 'changing', key: 'none' }, 'interrupted while setting the token PIN'],
    [{ ...g, pin: 'set', key: 'generating' }, 'interrupted while generating the key pair or building its CSR'],
    [{ ...g, pin: 'set', key: 'created', result: event('x') }, 'key generated, result not yet published'],
    [{ ...g, pin: 'set', key: 'created', result: { ...event('x'), published: true } }, undefined],
  ] as const)('describes %j as %s', (generation, expected) => {
    expect(inFlight({ ...base, generation: generation as never })).toBe(expected);
  });
});
