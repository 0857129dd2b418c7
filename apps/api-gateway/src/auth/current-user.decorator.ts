import { createParamDecorator, type ExecutionContext } from '@nestjs/common';
import type { FastifyRequest } from 'fastify';
import { httpError } from '../http/problem.js';
import type { AuthenticatedUser } from './authenticator.js';

declare module 'fastify' {
  interface FastifyRequest {
    /** Set by the authentication hook on routes that require a bearer token. */
    user?: AuthenticatedUser;
  }
}

/** The authenticated user of a bearer route (the hook has already refused anyone else). */
export const CurrentUser = createParamDecorator((_data: unknown, ctx: ExecutionContext): AuthenticatedUser => {
  const request = ctx.switchToHttp().getRequest<FastifyRequest>();
  if (!request.user) throw httpError('unauthenticated', 'a bearer token is required');
  return request.user;
});
