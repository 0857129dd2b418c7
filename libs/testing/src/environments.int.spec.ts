import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { connect } from '@nats-io/transport-node';
import { jetstreamManager } from '@nats-io/jetstream';
import pg from 'pg';
import { containersAvailable, createSoftHsm, createTestDatabase, startTestNats } from './index.js';

const run = promisify(execFile);

describe('test environments', () => {
  describe('createTestDatabase', () => {
    it('creates an empty database of its own and drops it afterwards', async () => {
      const db = await createTestDatabase('env_check');
      const client = new pg.Client({ connectionString: db.url });
      await client.connect();
      const { rows } = await client.query("SELECT count(*)::int AS n FROM information_schema.tables WHERE table_schema = 'public'");
      await client.end();
      expect(rows[0].n).toBe(0);
      const exists = async () => {
        const admin = new pg.Client({ connectionString: db.serverUrl });
        await admin.connect();
        try {
          return (await admin.query('SELECT 1 FROM pg_database WHERE datname = $1', [db.name])).rowCount;
        } finally {
          await admin.end();
        }
      };
      // Checked on the server the database lives on (a container's, or the local one).
      expect(await exists()).toBe(1);
      await db.drop();
      if (await containersAvailable()) {
        // The container went with it: nothing answers at that address any more.
        const gone = new pg.Client({ connectionString: db.url, connectionTimeoutMillis: 2_000 });
        await expect(gone.connect()).rejects.toThrow();
      } else {
        expect(await exists()).toBe(0);
      }
    });
  });

  describe('startTestNats', () => {
    it('starts a private server with JetStream', async () => {
      const nats = await startTestNats();
      try {
        const nc = await connect({ servers: nats.url });
        const jsm = await jetstreamManager(nc);
        const info = await jsm.getAccountInfo();
        expect(info.streams).toBe(0);
        await nc.close();
      } finally {
        await nats.stop();
      }
    });
  });

  describe('createSoftHsm', () => {
    it('makes tokens with and without an initialised user PIN in a directory of its own', async () => {
      const hsm = await createSoftHsm();
      try {
        await hsm.createToken({ label: 'with-pin', soPin: '12345678', userPin: '123456' });
        await hsm.createToken({ label: 'fresh', soPin: '12345678' });
        const { stdout } = await run('pkcs11-tool', ['--module', hsm.modulePath, '-L'], { env: { ...process.env, ...hsm.env } });
        const slots = stdout.split(/Slot \d+/).filter((s) => s.includes('token label'));
        const withPin = slots.find((s) => /token label\s*:\s*with-pin/.test(s))!;
        const fresh = slots.find((s) => /token label\s*:\s*fresh/.test(s))!;
        expect(withPin).toMatch(/PIN initialized/);
        expect(fresh).toBeDefined();
        expect(fresh).not.toMatch(/PIN initialized/);
      } finally {
        await hsm.cleanup();
      }
    });
  });
});
