import { Catch, HttpException, type ArgumentsHost, type ExceptionFilter } from '@nestjs/common';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { AppError, type Logger } from '@thk/core';
import { PROBLEM_CONTENT_TYPE, problem, problemFromAppError, type Problem } from './problem.js';

/** Fastify's own refusals (body parsing, limits) all concern the body's shape: api.md's 400. */
function problemFromFastifyError(error: { code?: string; statusCode?: number; message: string }): Problem | undefined {
  if (typeof error.code !== 'string' || !error.code.startsWith('FST_')) return undefined;
  const reasons: Record<string, string> = {
    FST_ERR_CTP_BODY_TOO_LARGE: 'the body is too large',
    FST_ERR_CTP_INVALID_MEDIA_TYPE: 'the body must be application/json',
    FST_ERR_CTP_INVALID_CONTENT_LENGTH: 'the body does not match its Content-Length',
    FST_ERR_CTP_EMPTY_JSON_BODY: 'the body is empty',
    FST_ERR_CTP_INVALID_JSON_BODY: 'the body is not valid JSON',
  };
  const reason = reasons[error.code];
  if (reason) return problem('validation-failed', reason);
  if (error.statusCode && error.statusCode >= 400 && error.statusCode < 500) return problem('validation-failed', 'the request could not be read');
  return undefined;
}

/** Turns whatever a request threw into an RFC 9457 answer. */
export function toProblem(exception: unknown): Problem {
  if (exception instanceof AppError) return problemFromAppError(exception);
  if (exception instanceof HttpException) {
    const fromFastify = exception.cause && typeof exception.cause === 'object' && 'message' in exception.cause
      ? problemFromFastifyError(exception.cause as { code?: string; statusCode?: number; message: string })
      : undefined;
    if (fromFastify) return fromFastify;
    const status = exception.getStatus();
    if (status === 404) return problem('not-found', 'no such resource');
    if (status === 401) return problem('unauthenticated', 'a valid bearer token is required');
    if (status >= 400 && status < 500) return problem('validation-failed', 'the request is not valid');
    return problem('internal', 'internal error; retry later');
  }
  if (exception instanceof SyntaxError) return problem('validation-failed', 'the body is not valid JSON');
  if (exception && typeof exception === 'object' && 'message' in exception) {
    const fromFastify = problemFromFastifyError(exception as { code?: string; statusCode?: number; message: string });
    if (fromFastify) return fromFastify;
  }
  return problem('internal', 'internal error; retry later');
}

export function sendProblem(reply: FastifyReply, p: Problem, exception?: unknown): void {
  if (p.status === 401) reply.header('www-authenticate', 'Bearer');
  if (p.status === 429 || p.status === 503) {
    const retryAfter = exception instanceof AppError ? exception.meta?.['retryAfterSeconds'] : undefined;
    reply.header('retry-after', String(typeof retryAfter === 'number' ? Math.max(1, Math.ceil(retryAfter)) : 1));
  }
  reply.status(p.status).header('content-type', PROBLEM_CONTENT_TYPE).header('cache-control', 'no-store').send(JSON.stringify(p));
}

/** The one exception filter of the gateway: every error, from Nest or Fastify, leaves as problem+json. */
@Catch()
export class ProblemExceptionFilter implements ExceptionFilter {
  constructor(private readonly log: Logger) {}

  catch(exception: unknown, host: ArgumentsHost): void {
    const ctx = host.switchToHttp();
    const reply = ctx.getResponse<FastifyReply>();
    const request = ctx.getRequest<FastifyRequest>();
    const p = toProblem(exception);
    if (p.status >= 500) {
      const err = exception instanceof Error ? { name: exception.name, message: exception.message, code: (exception as { code?: unknown }).code } : { value: String(exception) };
      this.log.error({ err, reqId: request?.id, url: request?.url }, 'request failed');
    }
    if (reply.sent || reply.raw.headersSent) return;
    // Readiness answers its own 503 body (which checks are down), not a problem.
    if (exception instanceof HttpException && exception.getStatus() === 503 && typeof exception.getResponse() === 'object') {
      reply.status(503).header('content-type', 'application/json; charset=utf-8').send(JSON.stringify(exception.getResponse()));
      return;
    }
    sendProblem(reply, { ...p, ...(request?.url ? { instance: request.url.split('?')[0] } : {}) }, exception);
  }
}
