// One CA gateway replica for tools/bench/ca-issue.mjs --replicas N (a child process with IPC).
// Reads its configuration from CA_BENCH_CONFIG (JSON: databaseUrl, natsUrl, kek, consumerConcurrency, dbPoolSize).
await import('reflect-metadata');
const { startCaGateway } = await import('../../apps/ca-gateway/src/ca-gateway.app.ts');
const { testCaGatewayConfig } = await import('../../apps/ca-gateway/src/testing/ca-gateway-harness.ts');
const { createLogger } = await import('@thk/core');

const c = JSON.parse(process.env.CA_BENCH_CONFIG);
const config = testCaGatewayConfig(c.databaseUrl, c.natsUrl, {
  kek: { id: c.kekId, key: Buffer.from(c.kek, 'base64') },
  consumerConcurrency: c.consumerConcurrency,
  dbPoolSize: c.dbPoolSize,
  ca: c.ca,
});
const cpu0 = process.cpuUsage();
const gateway = await startCaGateway(config, { logger: createLogger('ca-replica', { level: 'silent' }) });
process.send({ ready: true });
process.on('message', async (m) => {
  if (m.stop) {
    const cpu = process.cpuUsage(cpu0);
    await gateway.close();
    process.send({ stopped: true, cpuMs: (cpu.user + cpu.system) / 1000 });
    process.exit(0);
  }
});
