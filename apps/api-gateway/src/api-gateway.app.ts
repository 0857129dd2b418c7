import { NestFactory } from '@nestjs/core';
import { FastifyAdapter, type NestFastifyApplication } from '@nestjs/platform-fastify';
import type { NatsConnection } from '@nats-io/transport-node';
import { randomUUID } from 'node:crypto';
import { pino, type DestinationStream } from 'pino';
import { PinoNestLogger, REDACTED_PATHS, type Logger } from '@thk/core';
import { connectNats, defaultStreamSpecs, provisionStreams, RpcClient } from '@thk/messaging';
import { metricsRegistry, ReadinessRegistry } from '@thk/service-kit';
import { ApiGatewayModule } from './api-gateway.module.js';
import { installAuthentication } from './auth/authentication.hook.js';
import { Authenticator } from './auth/authenticator.js';
import { createDevSigningKey, DevTokenIssuer } from './auth/dev-token-issuer.js';
import { CABINET_ROUTE, registerCabinetStatic } from './cabinet/cabinet-static.js';
import type { GatewayConfig } from './config.js';
import type { GatewayContext } from './gateway.context.js';
import { ProgressFeed } from './hardware-key-requests/progress-feed.js';
import { fastifyPath, routeKey, routesFor, type RouteSpec } from './http/api-routes.js';
import { problem } from './http/problem.js';
import { ProblemExceptionFilter, sendProblem } from './http/problem.filter.js';
import { httpMetrics, installRequestLogging } from './http/request-logging.js';
import { installJsonBodyParser, installQueryRefusal } from './http/validation.js';
import { buildOpenApiDocument } from './openapi/openapi.document.js';
import { RateLimiter } from './rate-limit/token-bucket.js';
import { AcceptedRequests } from './temporary-hardware-keys/accepted-requests.js';

export const SERVICE_NAME = 'api-gateway';

export interface ApiGatewayOptions {
  /** The clock (token expiry, rate limits). */
  now?: () => Date;
  /** Where log lines go (default stdout); tests capture them here. */
  logDestination?: DestinationStream;
  logLevel?: string;
}

export interface RunningApiGateway {
  app: NestFastifyApplication;
  url: string;
  context: GatewayContext;
  close(): Promise<void>;
}

function createGatewayLogger(options: ApiGatewayOptions): Logger {
  const level = options.logLevel ?? process.env['LOG_LEVEL'] ?? (process.env['NODE_ENV'] === 'test' ? 'warn' : 'info');
  const config = {
    name: SERVICE_NAME,
    level,
    redact: { paths: [...REDACTED_PATHS, 'body.*.password', 'body.*.cloudKeyPassword'], censor: '[redacted]' },
    base: { service: SERVICE_NAME },
    timestamp: pino.stdTimeFunctions.isoTime,
  };
  return options.logDestination ? pino(config, options.logDestination) : pino(config);
}

/** Every route Fastify serves must be in the route table (and so in the OpenAPI document), and vice versa. */
function checkRouteTable(served: Set<string>, routes: readonly RouteSpec[]): void {
  const declared = new Set(routes.map((r) => routeKey(r.method, fastifyPath(r.path))));
  const undeclared = [...served].filter((r) => !declared.has(r));
  const missing = [...declared].filter((r) => !served.has(r));
  if (undeclared.length || missing.length) {
    throw new Error(`the route table and the served routes differ: not declared ${JSON.stringify(undeclared)}, not served ${JSON.stringify(missing)}`);
  }
}

/**
 * Starts the API gateway: the HTTP edge of the cabinet. It owns nothing persistent; it calls the
 * services over NATS request/reply and follows the saga's progress events for its SSE streams.
 */
export async function startApiGateway(config: GatewayConfig, options: ApiGatewayOptions = {}): Promise<RunningApiGateway> {
  const now = options.now ?? (() => new Date());
  const log = createGatewayLogger(options);
  let nc: NatsConnection | undefined;
  let feed: ProgressFeed | undefined;
  let app: NestFastifyApplication | undefined;
  try {
    nc = await connectNats(config.nats);
    await provisionStreams(nc, defaultStreamSpecs(), { replicas: config.streamReplicas });
    feed = new ProgressFeed(nc, log.child({ component: 'progress-feed' }), config.progress.bufferedRequests);
    await feed.start();

    const devKey = config.auth.mode === 'dev' ? await createDevSigningKey(config.auth.devSecret) : null;
    const authenticator = new Authenticator(config.auth, now, devKey);
    const routes = routesFor(config.auth.mode);
    const context: GatewayContext = {
      config,
      rpc: new RpcClient(nc, config.rpc.timeoutMs),
      feed,
      limiter: new RateLimiter(() => now().getTime()),
      acceptedRequests: new AcceptedRequests(() => now().getTime()),
      devIssuer: devKey ? new DevTokenIssuer(devKey, config.auth, now) : null,
      now,
      log,
      openApiDocument: buildOpenApiDocument(routes, { devMode: config.auth.mode === 'dev' }),
      openStreams: new Set(),
    };

    const adapter = new FastifyAdapter({
      bodyLimit: config.http.bodyLimitBytes,
      trustProxy: config.http.trustProxy,
      logger: false,
      genReqId: () => randomUUID(),
      // Bounded header and URL sizes: a request that exceeds them never reaches a handler.
      routerOptions: { maxParamLength: 200 },
    });
    const fastify = adapter.getInstance();
    const served = new Set<string>();
    fastify.addHook('onRoute', (route) => {
      const methods = Array.isArray(route.method) ? route.method : [route.method];
      for (const m of methods) if (m !== 'HEAD' && route.url !== CABINET_ROUTE) served.add(routeKey(m, route.url));
    });
    fastify.addHook('onSend', async (request, reply, payload) => {
      reply.header('x-content-type-options', 'nosniff').header('x-request-id', request.id);
      return payload;
    });
    installJsonBodyParser(fastify);
    installAuthentication(fastify, authenticator, routes);
    installQueryRefusal(fastify, routes);
    installRequestLogging(fastify, log.child({ component: 'http' }), httpMetrics(metricsRegistry));
    registerCabinetStatic(fastify, config.cabinetDir, (request, reply) => {
      sendProblem(reply, { ...problem('not-found', 'no such resource'), instance: request.url.split('?')[0] });
    });

    app = await NestFactory.create<NestFastifyApplication>(ApiGatewayModule.forRoot(context), adapter, {
      logger: new PinoNestLogger(log.child({ component: 'nest' })),
      bodyParser: false,
      abortOnError: false,
    });
    app.useGlobalFilters(new ProblemExceptionFilter(log.child({ component: 'http' })));
    const readiness = app.get(ReadinessRegistry);
    const connection = nc;
    const progress = feed;
    readiness.add({ name: 'nats', check: async () => { if (connection.isClosed()) throw new Error('closed'); await connection.flush(); } });
    readiness.add({ name: 'progress-feed', check: async () => { if (!progress.isConsuming()) throw new Error('not consuming'); } });
    await app.init();
    checkRouteTable(served, routes);
    await app.listen({ port: config.http.port, host: config.http.host });
    const url = (await app.getUrl()).replace('[::1]', '127.0.0.1');
    log.info({ url, authMode: config.auth.mode, cabinetDir: config.cabinetDir }, 'api-gateway is up');

    let closing: Promise<void> | undefined;
    const running = app;
    return {
      app: running,
      url,
      context,
      close: () => (closing ??= (async () => {
        for (const closeStream of [...context.openStreams]) closeStream();
        await running.close();
        await progress.stop();
        await connection.drain().catch(() => undefined);
      })()),
    };
  } catch (error) {
    await app?.close().catch(() => undefined);
    await feed?.stop().catch(() => undefined);
    await nc?.close().catch(() => undefined);
    throw error;
  }
}
