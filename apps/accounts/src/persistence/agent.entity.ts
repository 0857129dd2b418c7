import { Column, Entity, PrimaryColumn } from 'typeorm';
import type { InventoryToken, SealingJwk } from '@thk/contracts';

/** A token agent bound to a user, with what its last inventory reported. */
@Entity({ name: 'agents' })
export class AgentEntity {
  @PrimaryColumn({ name: 'agent_id', type: 'text' }) agentId!: string;
  @Column({ name: 'user_id', type: 'uuid' }) userId!: string;
  @Column({ name: 'registered_at', type: 'timestamptz', precision: 3 }) registeredAt!: Date;
  @Column({ name: 'sealing_key', type: 'jsonb', nullable: true }) sealingKey!: SealingJwk | null;
  @Column({ type: 'jsonb', default: () => "'[]'::jsonb" }) tokens!: InventoryToken[];
  @Column({ name: 'heartbeat_seconds', type: 'integer', nullable: true }) heartbeatSeconds!: number | null;
  /** min(reportedAt, receipt time) of the newest inventory: an old redelivery cannot make an agent look online. */
  @Column({ name: 'last_reported_at', type: 'timestamptz', precision: 3, nullable: true }) lastReportedAt!: Date | null;
}
