import { Column, Entity, PrimaryColumn } from 'typeorm';
import type { RpcResponse, RequestTemporaryHardwareKeyV1 } from '@thk/contracts';
import type { StartedState } from '../hardware-key/hardware-key.saga.js';

/**
 * One hardware key saga: its whole state as JSON (the pure saga's `SagaState`), plus the columns
 * that are queried (status, deadline, certificate serial, the idempotency key). `version` is the
 * optimistic-concurrency token: every save is `UPDATE … WHERE version = <loaded>`.
 * No password is ever stored here; `reply` is the first answer given, replayed to a repeated start.
 */
@Entity({ name: 'hardware_key_requests' })
export class HardwareKeyRequestEntity {
  @PrimaryColumn({ name: 'request_id', type: 'uuid' })
  requestId!: string;

  @Column({ name: 'user_id', type: 'uuid' })
  userId!: string;

  @Column({ name: 'idempotency_key', type: 'text' })
  idempotencyKey!: string;

  /** SHA-256 of the normalised start input, the cloud key password left out (see idempotency.ts). */
  @Column({ name: 'input_hash', type: 'text' })
  inputHash!: string;

  @Column({ name: 'status', type: 'text' })
  status!: StartedState['status'];

  @Column({ name: 'agent_id', type: 'text' })
  agentId!: string;

  @Column({ name: 'certificate_serial', type: 'text', nullable: true })
  certificateSerial!: string | null;

  @Column({ name: 'deadline_at', type: 'timestamptz', nullable: true })
  deadlineAt!: Date | null;

  /**
   * Consecutive failures to apply the due deadline; each pushes `deadline_at` back (deadline-backoff.ts),
   * so `deadline_at` may then be later than the state's own `deadlineAt`. Zero again on every saved change.
   */
  @Column({ name: 'deadline_failures', type: 'integer', default: 0 })
  deadlineFailures!: number;

  @Column({ name: 'version', type: 'integer' })
  version!: number;

  @Column({ name: 'state', type: 'jsonb' })
  state!: StartedState;

  @Column({ name: 'reply', type: 'jsonb' })
  reply!: RpcResponse<typeof RequestTemporaryHardwareKeyV1>;

  @Column({ name: 'created_at', type: 'timestamptz' })
  createdAt!: Date;

  @Column({ name: 'updated_at', type: 'timestamptz' })
  updatedAt!: Date;
}
