import type { KeyAccount } from '@thk/contracts';
import { AppError } from '@thk/core';
import type { DataSource } from 'typeorm';
import { decodeKeyCursor, encodeKeyCursor } from './key-cursor.js';
import { effectiveStatus, keyActions } from './key-state.js';
import type { KeyKind } from '../persistence/index.js';
import type { KeyStatus } from '@thk/contracts';

/** The columns the list shows (never the DER: it is fetched on its own). */
interface KeyRow {
  id: string;
  user_id: string;
  kind: KeyKind;
  temporary: boolean;
  base_key_id: string | null;
  owner_organization: string | null;
  owner_edrpou: string | null;
  owner_full_name: string;
  owner_rnokpp: string;
  owner_position: string | null;
  status: KeyStatus;
  /** Epoch milliseconds. */
  created_at: number;
  cert_serial: string | null;
  cert_subject: string | null;
  cert_issuer: string | null;
  cert_not_before: number | null;
  cert_not_after: number | null;
  cert_revoked: boolean;
  token_serial: string | null;
  token_model: string | null;
  token_label: string | null;
  access_blocked: boolean;
}

/** Epoch milliseconds as float8: parsed with parseFloat, far cheaper than pg's timestamptz parser on the hot path. */
const ms = (column: string, as: string) => `(extract(epoch from ${column}) * 1000)::float8 AS ${as}`;
const COLUMNS = `k.id, k.user_id, k.kind, k.temporary, k.base_key_id, k.owner_organization, k.owner_edrpou, k.owner_full_name,
  k.owner_rnokpp, k.owner_position, k.status, ${ms('k.created_at', 'created_at')}, k.cert_serial, k.cert_subject, k.cert_issuer,
  ${ms('k.cert_not_before', 'cert_not_before')}, ${ms('k.cert_not_after', 'cert_not_after')}, k.cert_revoked_at IS NOT NULL AS cert_revoked,
  k.token_serial, k.token_model, k.token_label, (s.access_blocked_at IS NOT NULL) AS access_blocked`;
const FROM = 'key_accounts k LEFT JOIN cloud_key_secrets s ON s.key_id = k.id';

/** The list query (exported for the benchmark's EXPLAIN): `$1` user, then `$2, $3` cursor, and the limit last. */
export function listKeysSql(withCursor: boolean): string {
  return withCursor
    ? `SELECT ${COLUMNS} FROM ${FROM} WHERE k.user_id = $1 AND (k.created_at, k.id) < ($2, $3) ORDER BY k.created_at DESC, k.id DESC LIMIT $4`
    : `SELECT ${COLUMNS} FROM ${FROM} WHERE k.user_id = $1 ORDER BY k.created_at DESC, k.id DESC LIMIT $2`;
}

export interface KeyPage { items: KeyAccount[]; nextCursor: string | null }

/** The read side of the key list: one owner's keys, newest first, by keyset pagination. */
export class KeyQueries {
  constructor(private readonly ds: DataSource, private readonly clock: () => Date) {}

  async list(userId: string, limit: number, cursor: string | null): Promise<KeyPage> {
    const after = cursor === null ? null : decodeKeyCursor(cursor);
    // One row more than asked tells whether a next page exists without a count.
    const rows: KeyRow[] = after === null
      ? await this.ds.query(listKeysSql(false), [userId, limit + 1])
      : await this.ds.query(listKeysSql(true), [userId, after.createdAt, after.id, limit + 1]);
    const now = this.clock();
    const page = rows.slice(0, limit);
    const last = page[page.length - 1];
    return {
      items: page.map((r) => toKeyAccount(r, now)),
      nextCursor: rows.length > limit && last ? encodeKeyCursor({ createdAt: new Date(last.created_at), id: last.id }) : null,
    };
  }

  /** A key of this user; another user's key answers `not-found`, exactly like a missing one. */
  async get(userId: string, keyId: string): Promise<{ key: KeyAccount; certificateRevoked: boolean }> {
    const rows: KeyRow[] = await this.ds.query(`SELECT ${COLUMNS} FROM ${FROM} WHERE k.id = $1 AND k.user_id = $2`, [keyId, userId]);
    const row = rows[0];
    if (!row) throw notFound(keyId);
    return { key: toKeyAccount(row, this.clock()), certificateRevoked: row.cert_revoked };
  }

  async certificate(userId: string, keyId: string): Promise<{ der: string }> {
    const rows: Array<{ cert_der: Buffer | null }> = await this.ds.query('SELECT cert_der FROM key_accounts WHERE id = $1 AND user_id = $2', [keyId, userId]);
    const der = rows[0]?.cert_der;
    if (!der) throw new AppError('not-found', rows[0] ? 'this key has no certificate yet' : 'no such key', { meta: { keyId } });
    return { der: der.toString('base64') };
  }
}

export function notFound(keyId: string): AppError {
  return new AppError('not-found', 'no such key', { meta: { keyId } });
}

function toKeyAccount(r: KeyRow, now: Date): KeyAccount {
  const notBefore = r.cert_not_before === null ? null : new Date(r.cert_not_before);
  const notAfter = r.cert_not_after === null ? null : new Date(r.cert_not_after);
  const facts = { kind: r.kind, temporary: r.temporary, status: r.status, certNotBefore: notBefore, certNotAfter: notAfter, accessBlocked: r.access_blocked };
  return {
    id: r.id,
    kind: r.kind,
    temporary: r.temporary,
    baseKeyId: r.base_key_id,
    owner: {
      organization: r.owner_organization,
      edrpou: r.owner_edrpou,
      fullName: r.owner_full_name,
      rnokpp: r.owner_rnokpp,
      position: r.owner_position,
    },
    status: effectiveStatus(facts, now),
    createdAt: new Date(r.created_at).toISOString(),
    certificate: r.cert_serial && notBefore && notAfter
      ? { serialNumber: r.cert_serial, subject: r.cert_subject ?? '', issuer: r.cert_issuer ?? '', notBefore: notBefore.toISOString(), notAfter: notAfter.toISOString() }
      : null,
    token: r.token_serial !== null ? { serial: r.token_serial, model: r.token_model ?? '', label: r.token_label ?? '' } : null,
    actions: keyActions(facts, now),
  };
}
