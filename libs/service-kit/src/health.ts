import { Controller, Get, HttpException, HttpStatus, Inject, Injectable, Header } from '@nestjs/common';
import { Registry, collectDefaultMetrics } from 'prom-client';

export const READINESS_CHECKS = Symbol('READINESS_CHECKS');

/** A named check that the service can do its work (database reachable, NATS connected, …). */
export interface ReadinessCheck {
  name: string;
  check(): Promise<void>;
}

@Injectable()
export class ReadinessRegistry {
  private readonly checks: ReadinessCheck[] = [];
  add(check: ReadinessCheck): void { this.checks.push(check); }
  async run(): Promise<Record<string, 'up' | string>> {
    const results: Record<string, string> = {};
    await Promise.all(this.checks.map(async (c) => {
      try {
        await Promise.race([c.check(), new Promise((_, reject) => setTimeout(() => reject(new Error('timed out')), 2_000))]);
        results[c.name] = 'up';
      } catch (error) {
        results[c.name] = `down: ${(error as Error).message}`;
      }
    }));
    return results;
  }
}

/** One metrics registry per process, with the default Node metrics. */
export const metricsRegistry = new Registry();
collectDefaultMetrics({ register: metricsRegistry });

/**
 * The metric `name` of `registry`, made by `make` (which registers it there) the first time: a
 * registry refuses a second metric of one name, and a test process starts a service several times.
 */
export function registeredMetric<T>(name: string, make: () => T, registry: Registry = metricsRegistry): T {
  return (registry.getSingleMetric(name) as T | undefined) ?? make();
}

@Controller()
export class HealthController {
  constructor(@Inject(ReadinessRegistry) private readonly readiness: ReadinessRegistry) {}

  @Get('health/live')
  live(): { status: 'ok' } {
    return { status: 'ok' };
  }

  @Get('health/ready')
  async ready(): Promise<{ status: 'ok'; checks: Record<string, string> }> {
    const checks = await this.readiness.run();
    if (Object.values(checks).some((v) => v !== 'up')) {
      throw new HttpException({ status: 'unavailable', checks }, HttpStatus.SERVICE_UNAVAILABLE);
    }
    return { status: 'ok', checks };
  }

  @Get('metrics')
  @Header('Content-Type', 'text/plain; version=0.0.4')
  async metrics(): Promise<string> {
    return metricsRegistry.metrics();
  }
}
