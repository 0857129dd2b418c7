import { AppError } from '@thk/core';

/** A position in one owner's list, newest first: the last row of the page before. */
export interface KeyCursor { createdAt: Date; id: string }

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/**
 * Opaque to clients: base64url of `v1:<epoch ms>:<id>`. Keyset pagination over (created_at, id), so
 * rows added or removed meanwhile never shift a page and ties in `created_at` are broken by id.
 */
export function encodeKeyCursor(cursor: KeyCursor): string {
  return Buffer.from(`v1:${cursor.createdAt.getTime()}:${cursor.id}`, 'utf8').toString('base64url');
}

export function decodeKeyCursor(value: string): KeyCursor {
  const text = /^[A-Za-z0-9_-]{1,200}$/.test(value) ? Buffer.from(value, 'base64url').toString('utf8') : '';
  const match = /^v1:(\d{1,15}):([0-9a-f-]{36})$/.exec(text);
  if (!match || !UUID.test(match[2]!)) throw new AppError('validation-failed', 'cursor is not one this service issued', { meta: { field: 'cursor' } });
  return { createdAt: new Date(Number(match[1])), id: match[2]! };
}
