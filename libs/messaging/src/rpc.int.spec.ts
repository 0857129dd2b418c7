import { Controller, Module, type INestMicroservice } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { MessagePattern, Payload } from '@nestjs/microservices';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { GetCertificateStatusV1, GetCrlV1, type RpcRequest, type RpcResponse } from '@thk/contracts';
import { AppError, createLogger } from '@thk/core';
import { startTestNats, type TestNats } from '@thk/testing';
import { JetStreamServer, PassthroughRpcExceptionFilter, RpcClient } from './index.js';

@Controller()
class StatusController {
  calls = 0;
  slowAnswered = 0;

  @MessagePattern<string>(GetCertificateStatusV1.subject)
  async status(@Payload() req: RpcRequest<typeof GetCertificateStatusV1>): Promise<RpcResponse<typeof GetCertificateStatusV1>> {
    this.calls++;
    if (req.serialNumber === 'dead') throw new AppError('not-found', 'no such certificate', { meta: { serialNumber: req.serialNumber } });
    if (req.serialNumber === 'b00b') throw new Error('driver said: password=hunter2');
    if (req.serialNumber === 'bad') return { status: 'sideways' } as never;
    if (req.serialNumber === '51a0') { await new Promise((r) => setTimeout(r, 1_500)); this.slowAnswered++; } // slower than the caller waits
    return { status: 'good', revokedAt: null, reason: null };
  }
}

@Module({ controllers: [StatusController] })
class StatusModule {}

describe('RpcClient and JetStreamServer request/reply', () => {
  let nats: TestNats;
  let nc: NatsConnection;
  let app: INestMicroservice;
  let client: RpcClient;
  const logLines: string[] = [];

  beforeAll(async () => {
    nats = await startTestNats();
    nc = await connect({ servers: nats.url });
    app = await NestFactory.createMicroservice(StatusModule, { strategy: new JetStreamServer({ service: 'ca-test', connection: { servers: nats.url, name: 'ca-test' }, logger: createLogger('ca-test', { level: 'info' }, { write: (line: string) => { logLines.push(line); } }) }), logger: false });
    app.useGlobalFilters(new PassthroughRpcExceptionFilter());
    await app.listen();
    client = new RpcClient(nc, 1_000);
  });

  afterAll(async () => {
    await app?.close();
    await nc?.close();
    await nats?.stop();
  });

  describe('call', () => {
    it('answers with the validated response', async () => {
      await expect(client.call(GetCertificateStatusV1, { serialNumber: '0a' })).resolves.toEqual({ status: 'good', revokedAt: null, reason: null });
    });

    it('rethrows a refusal as an AppError with its code and metadata', async () => {
      const error = await client.call(GetCertificateStatusV1, { serialNumber: 'dead' }).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(AppError);
      expect(error).toMatchObject({ code: 'not-found', retryable: false, meta: { serialNumber: 'dead' } });
    });

    it('hides the message of an unexpected error (it may carry a secret)', async () => {
      const error = (await client.call(GetCertificateStatusV1, { serialNumber: 'b00b' }).catch((e: unknown) => e)) as AppError;
      expect(error.code).toBe('internal');
      expect(JSON.stringify(error.toShape())).not.toContain('hunter2');
      // Nor does it reach the log: the class, code and stack frames do, the message does not.
      const line = logLines.find((l) => l.includes('rpc handler failed'));
      expect(line).toBeDefined();
      expect(JSON.parse(line!).error).toMatchObject({ type: 'Error', stack: expect.stringContaining('at ') });
      expect(logLines.join('\n')).not.toContain('hunter2');
    });

    it('refuses a reply that fails the contract instead of passing it on', async () => {
      await expect(client.call(GetCertificateStatusV1, { serialNumber: 'bad' })).rejects.toMatchObject({ code: 'internal' });
    });

    it('refuses an invalid request before sending it', async () => {
      const controller = app.get(StatusController);
      const before = controller.calls;
      await expect(client.call(GetCertificateStatusV1, { serialNumber: 'NOT HEX' } as never)).rejects.toMatchObject({ code: 'validation-failed' });
      expect(controller.calls).toBe(before);
    });

    it('answers validation-failed to a raw request that fails the schema', async () => {
      const reply = await nc.request(GetCertificateStatusV1.subject, JSON.stringify({ serialNumber: 42 }), { timeout: 1_000 });
      expect(reply.json()).toMatchObject({ ok: false, error: { code: 'validation-failed' } });
    });

    it('turns a responder slower than timeoutMs into service-unavailable, not a hang', async () => {
      const controller = app.get(StatusController);
      const before = controller.calls;
      await expect(client.call(GetCertificateStatusV1, { serialNumber: '51a0' }, { timeoutMs: 300 })).rejects.toMatchObject({ code: 'service-unavailable', retryable: true });
      expect(controller.slowAnswered).toBe(0); // the caller gave up before the responder answered
      expect(controller.calls).toBe(before + 1); // it reached the responder: a timeout, not "no responders"
    });

    it('turns a call nobody answers into service-unavailable at once (the server says no responders), not a hang', async () => {
      const started = Date.now();
      await expect(client.call(GetCrlV1, {}, { timeoutMs: 5_000 })).rejects.toMatchObject({ code: 'service-unavailable', retryable: true, meta: { subject: GetCrlV1.subject } });
      expect(Date.now() - started).toBeLessThan(1_000);
    });

    it('keeps concurrent calls apart: each gets the reply to its own request', async () => {
      const serials = Array.from({ length: 30 }, (_, i) => (i % 3 === 0 ? 'dead' : (i + 16).toString(16)));
      const answers = await Promise.all(serials.map((serialNumber) => client.call(GetCertificateStatusV1, { serialNumber }).then(() => 'good', (e: AppError) => `${e.code}:${String(e.meta?.['serialNumber'])}`)));
      expect(answers).toEqual(serials.map((s) => (s === 'dead' ? 'not-found:dead' : 'good')));
    });

    it('drops a reply that comes after its call gave up, and the calls after it get their own', async () => {
      const started = Date.now();
      const slow = client.call(GetCertificateStatusV1, { serialNumber: '51a0' }, { timeoutMs: 200 });
      await expect(slow).rejects.toMatchObject({ code: 'service-unavailable' });
      // While the slow reply is still on its way, and after it came.
      await expect(client.call(GetCertificateStatusV1, { serialNumber: '0b' })).resolves.toMatchObject({ status: 'good' });
      // The responder answers after 1.5 s.
      await new Promise((r) => setTimeout(r, Math.max(0, started + 1_700 - Date.now())));
      await expect(client.call(GetCertificateStatusV1, { serialNumber: 'dead' })).rejects.toMatchObject({ code: 'not-found' });
    });
  });
});
