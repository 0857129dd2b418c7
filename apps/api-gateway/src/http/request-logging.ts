import type { FastifyInstance } from 'fastify';
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import type { Logger } from '@thk/core';
import { registeredMetric } from '@thk/service-kit';

/** Keys whose values never reach a log line, at any depth (pino's redaction paths are a second net). */
const SECRET_KEY = /(password|passphrase|secret|pin$|token$|authorization|cookie|jwe|privatekey)/i;

/** A copy of a request body fit for a log line: secrets replaced, size bounded. */
export function sanitizeForLog(value: unknown, depth = 0): unknown {
  if (depth > 4) return '[deep]';
  if (Array.isArray(value)) return value.slice(0, 20).map((v) => sanitizeForLog(v, depth + 1));
  if (value && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value as Record<string, unknown>).slice(0, 50)) {
      out[k] = SECRET_KEY.test(k) ? '[redacted]' : sanitizeForLog(v, depth + 1);
    }
    return out;
  }
  if (typeof value === 'string' && value.length > 256) return `${value.slice(0, 256)}…`;
  return value;
}

export interface HttpMetrics {
  duration: Histogram<'method' | 'route' | 'status'>;
  requests: Counter<'method' | 'route' | 'status'>;
  sseStreams: Gauge;
}

/** One set of metrics per registry (several gateways may run in one test process). */
export function httpMetrics(registry: Registry): HttpMetrics {
  const get = <T>(name: string, make: () => T): T => registeredMetric(name, make, registry);
  return {
    duration: get('thk_gateway_http_request_duration_seconds', () => new Histogram({
      name: 'thk_gateway_http_request_duration_seconds', help: 'HTTP request duration by route and status',
      labelNames: ['method', 'route', 'status'], buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10], registers: [registry],
    })),
    requests: get('thk_gateway_http_requests_total', () => new Counter({
      name: 'thk_gateway_http_requests_total', help: 'HTTP requests by route and status', labelNames: ['method', 'route', 'status'], registers: [registry],
    })),
    sseStreams: get('thk_gateway_sse_streams', () => new Gauge({ name: 'thk_gateway_sse_streams', help: 'open progress streams', registers: [registry] })),
  };
}

/**
 * One access-log line per request, written when the response is done: method, path, route,
 * status, duration, user, and the body of a write with every secret replaced.
 */
export function installRequestLogging(fastify: FastifyInstance, log: Logger, metrics: HttpMetrics): void {
  fastify.addHook('onResponse', async (request, reply) => {
    const route = request.routeOptions.url ?? (request.is404 ? 'not-found' : 'unmatched');
    const status = reply.statusCode;
    const seconds = reply.elapsedTime / 1_000;
    metrics.duration.observe({ method: request.method, route, status: String(status) }, seconds);
    metrics.requests.inc({ method: request.method, route, status: String(status) });
    const entry: Record<string, unknown> = {
      reqId: request.id,
      req: { method: request.method, url: request.url, route, ip: request.ip },
      res: { statusCode: status },
      ms: Math.round(reply.elapsedTime),
      ...(request.user ? { userId: request.user.userId } : {}),
    };
    if (request.method !== 'GET' && request.method !== 'HEAD' && request.body !== undefined) entry['body'] = sanitizeForLog(request.body);
    const idempotencyKey = request.headers['idempotency-key'];
    if (typeof idempotencyKey === 'string') entry['idempotencyKey'] = idempotencyKey.slice(0, 200);
    if (status >= 500) log.error(entry, 'request failed');
    else log.info(entry, 'request');
  });
}
