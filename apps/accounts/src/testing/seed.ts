import { randomUUID } from 'node:crypto';
import type { KeyStatus } from '@thk/contracts';
import type { DataSource } from 'typeorm';
import type { KeyKind } from '../persistence/index.js';

let rnokppSeq = 3_000_000_000;

/** A user row straight in the database (tests of reads do not need the CA). */
export async function seedUser(ds: DataSource, overrides: { fullName?: string; organization?: string | null; edrpou?: string | null } = {}): Promise<string> {
  const id = randomUUID();
  await ds.query('INSERT INTO users (id, full_name, rnokpp, organization, edrpou, position) VALUES ($1, $2, $3, $4, $5, $6)', [
    id, overrides.fullName ?? 'Тест Тест Тест', String(rnokppSeq++), overrides.organization ?? null, overrides.edrpou ?? null, null,
  ]);
  return id;
}

export interface SeedKey {
  userId: string;
  id?: string;
  kind?: KeyKind;
  baseKeyId?: string | null;
  status?: KeyStatus;
  createdAt: Date;
  certNotBefore?: Date | null;
  certNotAfter?: Date | null;
  token?: { serial: string; model: string; label: string } | null;
}

/** A key account row with a placeholder certificate (its DER is not parsed by the list). */
export async function seedKey(ds: DataSource, k: SeedKey): Promise<string> {
  const id = k.id ?? randomUUID();
  const hasCert = k.certNotAfter !== null && k.status !== 'pending';
  const notBefore = k.certNotBefore ?? new Date(k.createdAt.getTime() - 86_400_000);
  const notAfter = k.certNotAfter ?? new Date(k.createdAt.getTime() + 365 * 86_400_000);
  await ds.query(
    `INSERT INTO key_accounts (id, user_id, kind, temporary, base_key_id, owner_organization, owner_edrpou, owner_full_name, owner_rnokpp, status, status_changed_at, created_at,
       cert_serial, cert_subject, cert_issuer, cert_not_before, cert_not_after, cert_der, token_serial, token_model, token_label)
     SELECT $1, $2, $3, $4, $5, u.organization, u.edrpou, u.full_name, u.rnokpp, $6, $7, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16 FROM users u WHERE u.id = $2`,
    [
      id, k.userId, k.kind ?? 'cloud', Boolean(k.baseKeyId), k.baseKeyId ?? null, k.status ?? 'active', k.createdAt,
      hasCert ? id.replace(/-/g, '').slice(0, 16) : null, hasCert ? 'CN=Тест Тест Тест, C=UA' : null, hasCert ? 'CN=THK Test Issuing CA, C=UA' : null,
      hasCert ? notBefore : null, hasCert ? notAfter : null, hasCert ? Buffer.from('3003020101', 'hex') : null,
      k.token?.serial ?? null, k.token?.model ?? null, k.token?.label ?? null,
    ],
  );
  return id;
}
