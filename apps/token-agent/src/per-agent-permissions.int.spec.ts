import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { connect as netConnect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AckPolicy, jetstream, jetstreamManager } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import { AgentInventoryReportedV1, GenerateTokenKeyV1, type TokenKeyGeneratedV1 } from '@thk/contracts';
import { createSoftHsm, freePort, NATS_SERVER_BIN, type SoftHsmEnvironment } from '@thk/testing';
import { AgentBus, sealPin } from './testing/agent-test-kit.js';
import { startTokenAgent, type RunningTokenAgent } from './token-agent.app.js';

const AGENT = 'perm-agent';
const SO_PIN = 'so-pin-8765';

/**
 * The least privilege an agent needs on NATS (what `docker/nats/accounts.conf` should grant): its
 * own events, its own durable (created with its own filter only), its own dead letters; nothing else.
 */
function agentPermissions(agentId: string) {
  return {
    publish: [
      `agent.${agentId}.evt.>`,
      '$JS.API.INFO',
      `$JS.API.CONSUMER.INFO.AGENTS.agent-${agentId}`,
      `$JS.API.CONSUMER.CREATE.AGENTS.agent-${agentId}.agent.${agentId}.cmd.>`,
      `$JS.API.CONSUMER.MSG.NEXT.AGENTS.agent-${agentId}`,
      `$JS.ACK.AGENTS.agent-${agentId}.>`,
      `dlq.AGENTS.agent-${agentId}`,
    ],
    subscribe: ['_INBOX.>'],
  };
}

describe('token agent under per-agent NATS permissions', () => {
  let hsm: SoftHsmEnvironment;
  let dir: string;
  let server: ChildProcess;
  let url: string;
  let bus: AgentBus;
  let agent: RunningTokenAgent;

  beforeAll(async () => {
    hsm = await createSoftHsm();
    await hsm.createToken({ label: 'perm', soPin: SO_PIN });
    process.env['SOFTHSM2_CONF'] = hsm.conf;
    dir = await mkdtemp(join(tmpdir(), 'thk-agent-perm-'));
    const port = await freePort();
    const perms = agentPermissions(AGENT);
    await writeFile(join(dir, 'nats.conf'), `
listen: 127.0.0.1:${port}
jetstream { store_dir: "${join(dir, 'js')}" }
authorization {
  users = [
    { user: service, password: service, permissions: { publish: [">"], subscribe: [">"] } }
    { user: ${AGENT}, password: agent-secret, permissions: { publish: ${JSON.stringify(perms.publish)}, subscribe: ${JSON.stringify(perms.subscribe)} } }
  ]
}
`);
    server = spawn(NATS_SERVER_BIN, ['-c', join(dir, 'nats.conf')], { stdio: 'ignore' });
    const deadline = Date.now() + 10_000;
    while (!(await new Promise<boolean>((r) => { const s = netConnect(port, '127.0.0.1'); s.once('connect', () => { s.destroy(); r(true); }); s.once('error', () => r(false)); }))) {
      if (Date.now() > deadline) throw new Error('nats-server did not start');
      await new Promise((r) => setTimeout(r, 25));
    }
    url = `nats://127.0.0.1:${port}`;
    // The services provision the streams; the agent's credentials cannot.
    bus = await AgentBus.connect(`nats://127.0.0.1:${port}`, { user: 'service', pass: 'service' });
    agent = await startTokenAgent({
      agentId: AGENT, nats: { servers: url, name: AGENT, user: AGENT, pass: 'agent-secret' }, modules: [hsm.modulePath], rescan: 'reinitialize', soPin: SO_PIN,
      stateDir: join(dir, 'state'), pinPolicy: { minLength: 6, maxLength: 32 }, heartbeatSeconds: 60, pollIntervalMs: 500, ackWaitSeconds: 30,
      provisionStreams: false, allowFinalTry: false,
    });
  });

  afterAll(async () => {
    await agent?.close();
    await bus?.close();
    if (server && server.exitCode === null) {
      const exited = new Promise((r) => server.once('exit', r));
      server.kill('SIGKILL');
      await exited;
    }
    await hsm?.cleanup();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('creates its own durable, reports, generates and publishes with nothing but its own subjects', async () => {
    const [report] = await bus.events<AgentInventoryReportedV1>(AGENT, AgentInventoryReportedV1.type);
    const token = report!.data.tokens.find((t) => t.label === 'perm')!;
    const requestId = crypto.randomUUID();
    await bus.send(GenerateTokenKeyV1, AGENT, {
      requestId, tokenSerial: token.serial, algorithm: 'EC-P256', label: 'thk-perm', sealedNewPin: await sealPin(agent.sealingKey, 'perm-pin-01'), sealedCurrentPin: null,
      subject: { commonName: 'Тест', surname: null, givenName: null, serialNumber: 'TINUA-1', organization: null, organizationIdentifier: null, title: null, country: 'UA' },
    });
    const [generated] = await bus.events<TokenKeyGeneratedV1>(AGENT, 'TokenKeyGenerated', { where: (e) => e.data.requestId === requestId });
    expect(generated?.data.tokenSerial).toBe(token.serial);
  });

  it('could not publish as another agent, nor read another agent\'s commands, with the same credentials', async () => {
    // Both exist and the service user could use them: only the agent's permissions stand in the way.
    await (await jetstreamManager(bus.nc)).consumers.add('AGENTS', { durable_name: 'agent-someone-else', filter_subject: 'agent.someone-else.cmd.>', ack_policy: AckPolicy.Explicit });
    await jetstream(bus.nc).publish('agent.someone-else.evt.inventory-reported.v1', new Uint8Array([1]));
    const nc = await connect({ servers: url, user: AGENT, pass: 'agent-secret' });
    try {
      const js = jetstream(nc, { timeout: 1_000 });
      await expect(js.publish('agent.someone-else.evt.inventory-reported.v1', new Uint8Array([1]))).rejects.toThrow();
      await expect(js.consumers.get('AGENTS', 'agent-someone-else')).rejects.toThrow();
    } finally {
      await nc.close();
    }
  });
});
