import { randomUUID } from 'node:crypto';
import { mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AppError } from '@thk/core';
import { AgentJournal, JOURNAL_DIR, inFlight, type GenerationRecord, type JournalEntry, type StoredEvent } from './agent-journal.js';

const event = (id: string): StoredEvent => ({ subject: 'agent.a.evt.x.v1', envelope: { id, type: 'X', version: 1, occurredAt: '2026-01-01T00:00:00.000Z', correlationId: 'c', causationId: null, source: 'token-agent', data: {} }, published: false });
const generation: GenerationRecord = { commandId: 'c1', correlationId: 'k', algorithm: 'EC-P256', label: 'l', keyId: 'ab', pin: 'set', key: 'none' };
const mode = async (path: string) => ((await stat(path)).mode & 0o777).toString(8);

describe('AgentJournal', () => {
  let dir: string;
  let journalDir: string;
  let now = new Date('2026-01-01T00:00:00Z');
  const [r1, r2] = [randomUUID(), randomUUID()];
  const entryFile = (requestId: string) => join(journalDir, `${requestId}.json`);
  /** A journal.json as agents before one file per entry wrote it. */
  const legacyJournal = (entries: JournalEntry[]) =>
    writeFile(join(dir, 'journal.json'), JSON.stringify({ version: 1, entries: Object.fromEntries(entries.map((e) => [e.requestId, e])) }, null, 1), { mode: 0o600 });
  const entry = (requestId: string): JournalEntry => ({ requestId, tokenSerial: 's', createdAt: '2026-01-01T00:00:00.000Z', updatedAt: '2026-01-01T00:00:00.000Z', generation });

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'thk-journal-'));
    journalDir = join(dir, JOURNAL_DIR);
    now = new Date('2026-01-01T00:00:00Z');
  });
  afterEach(async () => { await rm(dir, { recursive: true, force: true }); });

  describe('update', () => {
    it('makes every change durable in its own 0600 file, in a 0700 directory, that a new instance reads back', async () => {
      const journal = await AgentJournal.open(dir, () => now);
      await journal.update(r1, 'serial-1', (e) => { e.generation = { ...generation, keyId: 'cd' }; });
      const again = await AgentJournal.open(dir);
      expect(again.get(r1)).toMatchObject({ requestId: r1, tokenSerial: 'serial-1', generation: { pin: 'set', keyId: 'cd' } });
      expect(await readdir(journalDir)).toEqual([`${r1}.json`]);
      expect(await mode(journalDir)).toBe('700');
      expect(await mode(entryFile(r1))).toBe('600');
    });

    it('rewrites only the file of the entry it changes, however many entries there are', async () => {
      const journal = await AgentJournal.open(dir, () => now);
      const ids = Array.from({ length: 20 }, () => randomUUID());
      for (const id of ids) await journal.update(id, 's', (e) => { e.generation = generation; });
      // A file replaced by rename has a new inode; one left alone keeps its inode and its mtime.
      const files = async () => Object.fromEntries(await Promise.all((await readdir(journalDir)).map(async (n) => {
        const s = await stat(join(journalDir, n), { bigint: true });
        return [n, `${s.ino}:${s.mtimeNs}`] as const;
      })));
      const before = await files();
      await journal.update(ids[7]!, 's', (e) => { e.generation!.key = 'generating'; });
      const after = await files();
      expect(Object.keys(after).sort()).toEqual(Object.keys(before).sort());
      expect(Object.keys(after).filter((n) => after[n] !== before[n])).toEqual([`${ids[7]}.json`]);
    });

    it('applies concurrent changes one after the other, losing none', async () => {
      const journal = await AgentJournal.open(dir, () => now);
      await Promise.all(Array.from({ length: 20 }, () => journal.update(randomUUID(), 's', () => undefined)));
      expect(await AgentJournal.read(dir)).toHaveLength(20);
    });

    it('hands out copies: changing a returned entry changes nothing stored', async () => {
      const journal = await AgentJournal.open(dir, () => now);
      const e = await journal.update(r1, 's', () => undefined);
      e.tokenSerial = 'other';
      expect(journal.get(r1)?.tokenSerial).toBe('s');
    });

    it.each(['../escape', `${randomUUID()}/../../escape`, '..', '', 'r1', `${randomUUID()}.json`])('refuses the request id %j, which is no UUID, and writes nothing', async (requestId) => {
      const journal = await AgentJournal.open(dir, () => now);
      await expect(journal.update(requestId, 's', () => undefined)).rejects.toMatchObject({ code: 'agent.journal-request-id' });
      expect(journal.get(requestId)).toBeUndefined();
      expect(await readdir(dir)).toEqual([JOURNAL_DIR]);
      expect(await readdir(journalDir)).toEqual([]);
    });
  });

  describe('open', () => {
    it.each([
      ['cut short', '{"version":1,"entry":'],
      ['not an entry', '{"version":2}'],
      ['the entry of another request', JSON.stringify({ version: 1, entry: { requestId: randomUUID() } })],
    ])('refuses an entry file that is %s rather than forgetting the key it may record', async (_what, content) => {
      const journal = await AgentJournal.open(dir, () => now);
      await journal.update(r2, 's', () => undefined);
      await writeFile(entryFile(r1), content);
      await expect(AgentJournal.open(dir)).rejects.toThrow(AppError);
      await expect(AgentJournal.open(dir)).rejects.toMatchObject({ code: 'agent.journal-unreadable', message: expect.stringContaining(`${r1}.json`) });
    });

    it('removes the temp file of a write a crash interrupted; the entry keeps its previous content', async () => {
      const journal = await AgentJournal.open(dir, () => now);
      await journal.update(r1, 's', (e) => { e.generation = generation; });
      await writeFile(`${entryFile(r1)}.4242.0a1b2c3d.tmp`, '{"version":1,"entry":{"requestId":');
      const again = await AgentJournal.open(dir);
      expect(again.get(r1)?.generation).toEqual(generation);
      expect(await readdir(journalDir)).toEqual([`${r1}.json`]);
    });

    it('migrates a journal.json: an entry file for each entry, then journal.json removed', async () => {
      await legacyJournal([entry(r1), { ...entry(r2), destroy: { commandId: 'c', destroyedObjects: 2, result: event('e') } }]);
      const journal = await AgentJournal.open(dir, () => now);
      expect(journal.get(r1)).toEqual(entry(r1));
      expect(journal.unpublished().map((u) => [u.requestId, u.kind])).toEqual([[r2, 'destroy']]);
      expect(await readdir(dir)).toEqual([JOURNAL_DIR]);
      expect((await readdir(journalDir)).sort()).toEqual([`${r1}.json`, `${r2}.json`].sort());
      expect(await mode(entryFile(r2))).toBe('600');
      expect((await AgentJournal.open(dir)).get(r2)).toEqual(journal.get(r2));
    });

    it('migrates again after a stop that left journal.json beside some of its entry files', async () => {
      await legacyJournal([entry(r1), entry(r2)]);
      await AgentJournal.open(dir);
      await legacyJournal([entry(r1), entry(r2)]);
      await rm(entryFile(r2));
      const journal = await AgentJournal.open(dir);
      expect([journal.get(r1), journal.get(r2)]).toEqual([entry(r1), entry(r2)]);
      expect(await readdir(dir)).toEqual([JOURNAL_DIR]);
    });

    it('refuses a journal.json it cannot read rather than forgetting the keys it lists', async () => {
      await writeFile(join(dir, 'journal.json'), '{"version":1,"entries":');
      await expect(AgentJournal.open(dir)).rejects.toMatchObject({ code: 'agent.journal-unreadable' });
      await expect(readFile(join(dir, 'journal.json'), 'utf8')).resolves.toBe('{"version":1,"entries":');
    });
  });

  describe('read', () => {
    it('reads journal.json and the entry files without changing anything (the agent may be running beside it)', async () => {
      await (await AgentJournal.open(dir, () => now)).update(r1, 's', () => undefined);
      await legacyJournal([entry(r2)]);
      const tmp = `${entryFile(r1)}.4242.0a1b2c3d.tmp`;
      await writeFile(tmp, '{');
      expect((await AgentJournal.read(dir)).map((e) => e.requestId).sort()).toEqual([r1, r2].sort());
      await expect(stat(tmp)).resolves.toBeDefined();
      await expect(stat(join(dir, 'journal.json'))).resolves.toBeDefined();
    });

    it('reads an agent that never ran as an empty journal', async () => {
      await expect(AgentJournal.read(dir)).resolves.toEqual([]);
    });
  });

  describe('unpublished and prune', () => {
    it('lists stored events not yet published, and prunes (deletes the files of) only old entries with nothing left to publish', async () => {
      const [oldDone, oldPending, recent] = [randomUUID(), randomUUID(), randomUUID()];
      const journal = await AgentJournal.open(dir, () => now);
      await journal.update(oldDone, 's', (e) => { e.destroy = { commandId: 'c', destroyedObjects: 1, result: { ...event('a'), published: true } }; });
      await journal.update(oldPending, 's', (e) => { e.destroy = { commandId: 'c', destroyedObjects: 1, result: event('b') }; });
      expect(journal.unpublished().map((u) => [u.requestId, u.kind])).toEqual([[oldPending, 'destroy']]);
      now = new Date('2026-03-01T00:00:00Z');
      await journal.update(recent, 's', () => undefined);
      expect(await journal.prune(new Date('2026-02-01T00:00:00Z'))).toBe(1);
      expect(journal.get(oldDone)).toBeUndefined();
      expect((await readdir(journalDir)).sort()).toEqual([`${oldPending}.json`, `${recent}.json`].sort());
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
