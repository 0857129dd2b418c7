import type { z } from 'zod';
import { formatIssues, uuid } from '@thk/contracts';
import { httpError } from './problem.js';

/** Parses one part of a request; a failure is api.md's `400 validation-failed` naming the fields (never their values). */
export function parseInput<T extends z.ZodType>(schema: T, value: unknown, part: 'body' | 'query' | 'header'): z.infer<T> {
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
