import type { FastifyInstance } from 'fastify';
import type { z } from 'zod';
import { formatIssues, uuid } from '@thk/contracts';
import { fastifyPath, routeKey, type RouteSpec } from './api-routes.js';
import { httpError } from './problem.js';

/**
 * A JSON body that could not be read (not JSON, empty). The body parser hands it to the handler
 * instead of failing the request before it, so that the handler decides when the body is judged:
 * a seen Idempotency-Key is answered before the body's checks (api.md). Refused 400 by parseInput.
 */
export class UnreadableBody {
  constructor(readonly reason: string) {}
}

/** Replaces Fastify's JSON parser by one that yields an UnreadableBody instead of an error. */
export function installJsonBodyParser(fastify: FastifyInstance): void {
  fastify.removeContentTypeParser('application/json');
  fastify.addContentTypeParser('application/json', { parseAs: 'string' }, (_request, text, done) => {
    if (text === '') return done(null, new UnreadableBody('the body is empty'));
    try {
      done(null, JSON.parse(text as string));
    } catch {
      done(null, new UnreadableBody('the body is not valid JSON'));
    }
  });
}

/** Parses one part of a request; a failure is api.md's `400 validation-failed` naming the fields (never their values). */
export function parseInput<T extends z.ZodType>(schema: T, value: unknown, part: 'body' | 'query' | 'header'): z.infer<T> {
  if (value instanceof UnreadableBody) throw httpError('validation-failed', value.reason);
  const parsed = schema.safeParse(value);
  if (!parsed.success) {
    const issues = parsed.error.issues.map((i) => ({ ...i, path: [part, ...i.path] }));
    throw httpError('validation-failed', formatIssues({ issues }));
  }
  return parsed.data;
}

/** A path id that is not even a UUID names nothing: it answers 404 like any id the user does not own. */
export function parseId(value: unknown): string {
  const parsed = uuid.safeParse(value);
  if (!parsed.success) throw httpError('not-found', 'no such resource');
  return parsed.data;
}

/** A header's value (Node joins a repeated custom header into one string with ", "). */
export function headerValue(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value.join(', ') : value;
}

/**
 * A route without a query schema takes no query parameters: any is refused 400 validation-failed,
 * as an unknown body field is (routes with a schema refuse unknown ones through their strict object).
 * Runs after authentication (401 first). Only the `/v1` routes of the table: the operations routes
 * (health, metrics) are left as they are.
 */
export function installQueryRefusal(fastify: FastifyInstance, routes: readonly RouteSpec[]): void {
  const noQuery = new Set(routes.filter((r) => !r.query && r.path.startsWith('/v1/')).map((r) => routeKey(r.method, fastifyPath(r.path))));
  fastify.addHook('preValidation', async (request) => {
    const url = request.routeOptions.url;
    if (!url || request.is404) return;
    const method = request.method === 'HEAD' ? 'GET' : request.method;
    if (!noQuery.has(routeKey(method, url))) return;
    const names = Object.keys((request.query ?? {}) as Record<string, unknown>);
    if (names.length) throw httpError('validation-failed', `query: unknown parameter${names.length > 1 ? 's' : ''} ${names.slice(0, 10).map((n) => JSON.stringify(n.slice(0, 64))).join(', ')}`);
  });
}
