import { AppError } from '@thk/core';

/** RFC 9457 problem details, with the stable `code` of api.md as an extension member. */
export interface Problem {
  type: string;
  title: string;
  status: number;
  detail: string;
  code: string;
  instance?: string;
  /** wrong-password: how many more wrong passwords lock the key. */
  remainingAttempts?: number;
}

export const PROBLEM_CONTENT_TYPE = 'application/problem+json';

interface CodeSpec { status: number; title: string }

/**
 * The codes of api.md and their HTTP statuses. Anything not listed here is an internal fault:
 * it answers 500 `internal` and its message is not shown (it may name internals).
 */
export const problemCodes = {
  'unauthenticated': { status: 401, title: 'Authentication required' },
  'validation-failed': { status: 400, title: 'The request is not valid' },
  'current-token-password-required': { status: 400, title: 'The token password is required' },
  'not-found': { status: 404, title: 'Not found' },
  'idempotency-conflict': { status: 409, title: 'Idempotency-Key reused with another request' },
  'key-not-eligible': { status: 409, title: 'The key cannot be used for this' },
  'token-unavailable': { status: 409, title: 'The token is not available' },
  'base-certificate-expiring': { status: 409, title: 'The base certificate ends too soon' },
  'algorithm-unsupported': { status: 409, title: 'The token does not support this algorithm' },
  'conflict': { status: 409, title: 'Conflict' },
  'wrong-password': { status: 422, title: 'Wrong password' },
  'key-access-blocked': { status: 423, title: 'Access to the key is blocked' },
  'rate-limited': { status: 429, title: 'Too many requests' },
  'internal': { status: 500, title: 'Internal error' },
  'service-unavailable': { status: 503, title: 'Service unavailable' },
} as const satisfies Record<string, CodeSpec>;

export type ProblemCode = keyof typeof problemCodes;

/** Downstream codes that are answered under another public code. */
const aliases: Record<string, ProblemCode> = {
  // The depository's KDF pool is saturated: a transient condition, like a slow service.
  'busy': 'service-unavailable',
  // The issuing CA's own certificate ends within the minimum validity: an operations problem, not the user's.
  'issuer-certificate-expiring': 'service-unavailable',
  // accounts outside development mode: the dev routes' backing call does not exist either.
  'not-available': 'not-found',
};

export function isProblemCode(code: string): code is ProblemCode {
  return Object.prototype.hasOwnProperty.call(problemCodes, code);
}

export function problem(code: ProblemCode, detail: string, extra: Partial<Problem> = {}): Problem {
  const spec = problemCodes[code];
  return { type: `urn:thk:problem:${code}`, title: spec.title, status: spec.status, detail, code, ...extra };
}

/** What a refusal looks like on the wire; unknown codes become a generic 500. */
export function problemFromAppError(error: AppError): Problem {
  const code = isProblemCode(error.code) ? error.code : aliases[error.code];
  if (!code) return problem('internal', 'internal error; retry later');
  if (code === 'internal') return problem('internal', 'internal error; retry later');
  const extra: Partial<Problem> = {};
  if (code === 'wrong-password') {
    const remaining = error.meta?.['remainingAttempts'];
    if (typeof remaining === 'number' && Number.isInteger(remaining) && remaining >= 0) extra.remainingAttempts = remaining;
  }
  const detail = code === 'service-unavailable' && error.code === 'service-unavailable'
    ? 'a service did not answer in time; retry shortly'
    : error.message;
  return problem(code, detail, extra);
}

/** An AppError that the gateway raises itself (authentication, validation, rate limits). */
export function httpError(code: ProblemCode, detail: string, meta?: Record<string, unknown>): AppError {
  return new AppError(code, detail, meta ? { meta } : {});
}
