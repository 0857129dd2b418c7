import { HttpException, HttpStatus } from '@nestjs/common';
import { HealthController, ReadinessRegistry } from './health.js';

describe('health', () => {
  it('is ready when every check passes', async () => {
    const registry = new ReadinessRegistry();
    registry.add({ name: 'database', check: async () => undefined });
    registry.add({ name: 'nats', check: async () => undefined });
    const controller = new HealthController(registry);
    await expect(controller.ready()).resolves.toEqual({ status: 'ok', checks: { database: 'up', nats: 'up' } });
    expect(controller.live()).toEqual({ status: 'ok' });
  });

  it('answers 503 naming the failing and the hanging checks', async () => {
    const registry = new ReadinessRegistry();
    registry.add({ name: 'database', check: async () => undefined });
    registry.add({ name: 'nats', check: async () => { throw new Error('closed'); } });
    registry.add({ name: 'stuck', check: () => new Promise(() => undefined) });
    const error = (await new HealthController(registry).ready().catch((e: unknown) => e)) as HttpException;
    expect(error).toBeInstanceOf(HttpException);
    expect(error.getStatus()).toBe(HttpStatus.SERVICE_UNAVAILABLE);
    expect(error.getResponse()).toEqual({ status: 'unavailable', checks: { database: 'up', nats: 'down: closed', stuck: 'down: timed out' } });
  });
});
