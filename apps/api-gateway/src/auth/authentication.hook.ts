import type { FastifyInstance } from 'fastify';
import { fastifyPath, routeKey, type RouteSpec } from '../http/api-routes.js';
import type { Authenticator } from './authenticator.js';

/**
 * Authentication runs on `onRequest`, before the body is even read, so that an anonymous call
 * is refused 401 before anything about its body is judged (api.md's refusal order). An unknown
 * route is left alone: it answers 404 whoever asks.
 */
export function installAuthentication(fastify: FastifyInstance, authenticator: Authenticator, routes: readonly RouteSpec[]): void {
  const bearer = new Set(routes.filter((r) => r.auth === 'bearer').map((r) => routeKey(r.method, fastifyPath(r.path))));
  fastify.addHook('onRequest', async (request) => {
    const url = request.routeOptions.url;
    if (!url || request.is404) return;
    const method = request.method === 'HEAD' ? 'GET' : request.method;
    if (!bearer.has(routeKey(method, url))) return;
    request.user = await authenticator.authenticate(request.headers.authorization);
  });
}
