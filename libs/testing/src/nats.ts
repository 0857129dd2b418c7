import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, connect as netConnect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { containersAvailable } from './container-runtime.js';

export interface TestNats {
  url: string;
  /** Stops the server and removes its store. */
  stop(): Promise<void>;
  /** Kills and restarts the server on the same port and store (JetStream state survives). Local servers only. */
  restart?(): Promise<void>;
}

/** Container image for NATS tests: 2.9.10, as Debian 12 ships (`NATS_TEST_IMAGE` overrides). */
export const NATS_TEST_IMAGE = process.env['NATS_TEST_IMAGE'] ?? 'nats:2.9.10-alpine3.17';

export const NATS_SERVER_BIN = process.env['NATS_SERVER_BIN'] ?? 'nats-server';

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const address = srv.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

async function waitForPort(port: number, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const ok = await new Promise<boolean>((resolve) => {
      const s = netConnect(port, '127.0.0.1');
      s.once('connect', () => { s.destroy(); resolve(true); });
      s.once('error', () => resolve(false));
    });
    if (ok) return;
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error(`nats-server did not listen on ${port} within ${timeoutMs} ms`);
}

function startProcess(port: number, storeDir: string): ChildProcess {
  const child = spawn(NATS_SERVER_BIN, ['-js', '-a', '127.0.0.1', '-p', String(port), '-sd', storeDir], { stdio: 'ignore' });
  child.on('error', (error) => {
    // Surface a missing binary clearly instead of a connection timeout later.
    console.error(`could not start ${NATS_SERVER_BIN}: ${error.message} (apt-get install nats-server)`);
  });
  return child;
}

async function stopProcess(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  await new Promise<void>((resolve) => {
    child.once('exit', () => resolve());
    child.kill('SIGKILL');
  });
}

/**
 * A private NATS server with JetStream for one spec file: a container where a runtime answers,
 * otherwise a `nats-server -js` process on a free port with a temporary store.
 */
export async function startTestNats(): Promise<TestNats> {
  if (await containersAvailable()) {
    const { NatsContainer } = await import('@testcontainers/nats');
    // The version this machine (Debian's nats-server) runs, so that containers test the same server.
    const container = await new NatsContainer(NATS_TEST_IMAGE).withJetStream().start();
    const opts = container.getConnectionOptions();
    const server = Array.isArray(opts.servers) ? opts.servers[0] : opts.servers;
    return { url: `nats://${server}`, stop: async () => { await container.stop(); } };
  }
  const port = await freePort();
  const storeDir = await mkdtemp(join(tmpdir(), 'thk-nats-'));
  let child = startProcess(port, storeDir);
  await waitForPort(port, 10_000);
  return {
    url: `nats://127.0.0.1:${port}`,
    async stop() {
      await stopProcess(child);
      await rm(storeDir, { recursive: true, force: true });
    },
    async restart() {
      await stopProcess(child);
      child = startProcess(port, storeDir);
      await waitForPort(port, 10_000);
    },
  };
}
