import { spawn, type ChildProcess } from 'node:child_process';
import { copyFile, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { connect, type NatsConnection, type Status } from '@nats-io/transport-node';
import { freePort, NATS_SERVER_BIN } from '@thk/testing';

const natsDir = resolve(dirname(fileURLToPath(import.meta.url)), '../../../docker/nats');

/** Test values for the variables `docker/nats/accounts.conf` reads (compose sets them on every NATS node). */
const PASSWORDS = {
  ACCOUNTS_NATS_PASSWORD: 'test-accounts-pw',
  ISSUANCE_NATS_PASSWORD: 'test-issuance-pw',
  CA_NATS_PASSWORD: 'test-ca-pw',
  GATEWAY_NATS_PASSWORD: 'test-gateway-pw',
  DEMO_AGENT_NATS_PASSWORD: 'test-agent-pw',
};
const USERS: Array<[user: string, password: string]> = [
  ['accounts', PASSWORDS.ACCOUNTS_NATS_PASSWORD],
  ['issuance', PASSWORDS.ISSUANCE_NATS_PASSWORD],
  ['ca-gateway', PASSWORDS.CA_NATS_PASSWORD],
  ['api-gateway', PASSWORDS.GATEWAY_NATS_PASSWORD],
  ['demo-agent', PASSWORDS.DEMO_AGENT_NATS_PASSWORD],
];

/**
 * Node 1's file as compose mounts it (`/etc/nats/nats.conf` beside `accounts.conf`), made a single
 * local server: the cluster block goes (its routes name the other containers), and the listen,
 * monitor and store lines point at this test's port and temporary directory. Everything else,
 * the `include` and the whole of `accounts.conf`, is what the containers load.
 */
function singleNode(conf: string, at: { port: number; monitorPort: number; storeDir: string }): string {
  const edits: Array<[RegExp, string]> = [
    [/^cluster \{[^}]*\}\n/m, ''],
    [/^listen: .*$/m, `listen: 127.0.0.1:${at.port}`],
    [/^http: .*$/m, `http: 127.0.0.1:${at.monitorPort}`],
    [/store_dir: [^,}\s]+/, `store_dir: ${JSON.stringify(at.storeDir)}`],
  ];
  return edits.reduce((text, [pattern, replacement]) => {
    if (!pattern.test(text)) throw new Error(`docker/nats/nats-1.conf no longer has ${pattern}: update this test`);
    return text.replace(pattern, replacement);
  }, conf);
}

const connectAs = (url: string, user: string, pass: string) => connect({ servers: url, user, pass, maxReconnectAttempts: 0, timeout: 3_000 });

describe('docker/nats: the configuration compose gives its NATS servers', () => {
  let dir: string;
  let server: ChildProcess;
  let url: string;
  const opened: NatsConnection[] = [];

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'thk-docker-nats-'));
    const [port, monitorPort] = [await freePort(), await freePort()];
    const conf = singleNode(await readFile(join(natsDir, 'nats-1.conf'), 'utf8'), { port, monitorPort, storeDir: join(dir, 'jetstream') });
    await writeFile(join(dir, 'nats.conf'), conf);
    await copyFile(join(natsDir, 'accounts.conf'), join(dir, 'accounts.conf'));
    let stderr = '';
    server = spawn(NATS_SERVER_BIN, ['-c', join(dir, 'nats.conf')], { env: { ...process.env, ...PASSWORDS }, stdio: ['ignore', 'ignore', 'pipe'] });
    server.stderr!.on('data', (chunk: Buffer) => { stderr += chunk.toString(); });
    // The probe compose's health check uses: the server is up with JetStream enabled.
    const deadline = Date.now() + 10_000;
    for (;;) {
      if (server.exitCode !== null) throw new Error(`nats-server refused the configuration:\n${stderr}`);
      const ok = await fetch(`http://127.0.0.1:${monitorPort}/healthz?js-enabled-only=true`).then((r) => r.ok, () => false);
      if (ok) break;
      if (Date.now() > deadline) throw new Error(`nats-server did not become healthy:\n${stderr}`);
      await new Promise((r) => setTimeout(r, 50));
    }
    url = `nats://127.0.0.1:${port}`;
  });

  afterAll(async () => {
    await Promise.all(opened.map((nc) => nc.close().catch(() => undefined)));
    if (server && server.exitCode === null && server.signalCode === null) {
      const exited = new Promise((r) => server.once('exit', r));
      server.kill('SIGKILL');
      await exited;
    }
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it.each(USERS)('lets %s in with the password from its environment variable', async (user, password) => {
    const nc = await connectAs(url, user, password);
    opened.push(nc);
    await expect(nc.flush()).resolves.toBeUndefined();
  });

  it('refuses a wrong password, and the variable\'s name taken literally (what the quoted form meant)', async () => {
    await expect(connectAs(url, 'accounts', 'wrong-password')).rejects.toThrow(/authorization/i);
    await expect(connectAs(url, 'accounts', '$ACCOUNTS_NATS_PASSWORD')).rejects.toThrow(/authorization/i);
    await expect(connectAs(url, 'demo-agent', PASSWORDS.ACCOUNTS_NATS_PASSWORD)).rejects.toThrow(/authorization/i);
  });

  it('lets the demo agent publish its own events and nothing outside agent.demo-agent.evt.>', async () => {
    const service = await connectAs(url, 'issuance', PASSWORDS.ISSUANCE_NATS_PASSWORD);
    const agent = await connectAs(url, 'demo-agent', PASSWORDS.DEMO_AGENT_NATS_PASSWORD);
    opened.push(service, agent);
    const received: string[] = [];
    service.subscribe('agent.>', { callback: (_err, msg) => { received.push(msg.subject); } });
    await service.flush();

    const violation = (async () => {
      for await (const s of agent.status() as AsyncIterable<Status>) {
        if (s.type === 'error' && /permissions violation/i.test(s.error.message)) return s.error.message;
      }
      return null;
    })();
    agent.publish('agent.someone-else.evt.inventory-reported.v1', 'x');
    agent.publish('agent.demo-agent.evt.inventory-reported.v1', 'x');
    await agent.flush();
    await expect(violation).resolves.toMatch(/publish to "agent\.someone-else\.evt\.inventory-reported\.v1"/i);
    await service.flush();
    const deadline = Date.now() + 2_000;
    while (!received.includes('agent.demo-agent.evt.inventory-reported.v1') && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    expect(received).toEqual(['agent.demo-agent.evt.inventory-reported.v1']);
  });
});
