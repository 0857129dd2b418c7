import type { HardwareKeyRequestEntity } from './hardware-key-request.entity.js';

/**
 * A `hardware_key_requests` row as `pg` answers `SELECT *`: jsonb parsed, timestamptz as `Date`,
 * integer as `number`, uuid as `string`. Other columns of the same query (e.g. `seen`) are ignored.
 */
export interface HardwareKeyRequestRow {
  request_id: string;
  user_id: string;
  idempotency_key: string;
  input_hash: string;
  status: HardwareKeyRequestEntity['status'];
  agent_id: string;
  certificate_serial: string | null;
  deadline_at: Date | null;
  deadline_failures: number;
  version: number;
  state: HardwareKeyRequestEntity['state'];
  reply: HardwareKeyRequestEntity['reply'];
  created_at: Date;
  updated_at: Date;
}

/**
 * The entity of a plain-SQL row, mapped by hand: on the saga's hot path TypeORM's query builder and
 * result transformer cost milliseconds of CPU per load, this costs nothing measurable.
 */
export function requestOfRow(row: HardwareKeyRequestRow): HardwareKeyRequestEntity {
  return {
    requestId: row.request_id,
    userId: row.user_id,
    idempotencyKey: row.idempotency_key,
    inputHash: row.input_hash,
    status: row.status,
    agentId: row.agent_id,
    certificateSerial: row.certificate_serial,
    deadlineAt: row.deadline_at,
    deadlineFailures: row.deadline_failures,
    version: row.version,
    state: row.state,
    reply: row.reply,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  };
}
