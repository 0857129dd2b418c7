import { Module, type DynamicModule, type INestApplication, type Type } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { FastifyAdapter, type NestFastifyApplication } from '@nestjs/platform-fastify';
import type { MicroserviceOptions } from '@nestjs/microservices';
import { createLogger, PinoNestLogger, type Logger } from '@thk/core';
import { JetStreamServer, PassthroughRpcExceptionFilter, type JetStreamServerOptions } from '@thk/messaging';
import { HealthController, ReadinessRegistry } from './health.js';

/** Health and metrics endpoints (`/health/live`, `/health/ready`, `/metrics`) for every service. */
@Module({ controllers: [HealthController], providers: [ReadinessRegistry], exports: [ReadinessRegistry] })
export class HealthModule {}

export interface ServiceBootstrapOptions {
  name: string;
  module: Type<unknown> | DynamicModule;
  /** HTTP port for health and metrics (0 picks a free one). */
  httpPort: number;
  httpHost?: string;
  transport: Omit<JetStreamServerOptions, 'service' | 'logger'>;
  logger?: Logger;
}

export interface RunningService {
  app: NestFastifyApplication;
  server: JetStreamServer;
  url: string;
  close(): Promise<void>;
}

/**
 * Starts a service: a Fastify HTTP app (health, metrics) with the JetStream transport connected,
 * pino logs, and graceful shutdown on SIGTERM/SIGINT (stop consuming, finish in-flight, close).
 */
export async function bootstrapService(options: ServiceBootstrapOptions): Promise<RunningService> {
  const logger = options.logger ?? createLogger(options.name);
  const app = await NestFactory.create<NestFastifyApplication>(options.module, new FastifyAdapter({ bodyLimit: 256 * 1024 }), {
    logger: new PinoNestLogger(logger),
    bufferLogs: false,
  });
  const server = new JetStreamServer({ ...options.transport, service: options.name, logger: logger.child({ component: 'jetstream' }) });
  // Global filters bind when the listeners are registered: defer that to listen() so that the filter
  // applies (otherwise Nest warns "registration must occur before initialization" and every AppError
  // becomes "Internal server error"). The app itself runs the lifecycle hooks, as for any hybrid app.
  const ms = app.connectMicroservice<MicroserviceOptions>({ strategy: server }, { deferInitialization: true });
  ms.useGlobalFilters(new PassthroughRpcExceptionFilter());
  (ms as { setIsInitHookCalled?: (called: boolean) => void }).setIsInitHookCalled?.(true);
  app.enableShutdownHooks();
  await app.startAllMicroservices();
  // Not ready while a durable consumer has stopped and is being restarted: a balancer or an
  // orchestrator then sends nothing to this replica, and the shared consumer feeds the others.
  app.get(ReadinessRegistry).add(server.readinessCheck());
  await app.listen({ port: options.httpPort, host: options.httpHost ?? '127.0.0.1' });
  const url = await app.getUrl();
  logger.info({ url }, `${options.name} is up`);
  let closing: Promise<void> | undefined;
  return {
    app, server, url,
    close: () => (closing ??= app.close()),
  };
}

export type { INestApplication };
