import { Column, Entity, PrimaryColumn } from 'typeorm';

/** A cabinet user as the accounts service knows them (the owner data a key account copies). */
@Entity({ name: 'users' })
export class UserEntity {
  @PrimaryColumn({ type: 'uuid' }) id!: string;
  @Column({ name: 'full_name', type: 'text' }) fullName!: string;
  @Column({ type: 'text', unique: true }) rnokpp!: string;
  @Column({ type: 'text', nullable: true }) organization!: string | null;
  @Column({ type: 'text', nullable: true }) edrpou!: string | null;
  @Column({ type: 'text', nullable: true }) position!: string | null;
  @Column({ name: 'created_at', type: 'timestamptz', precision: 3 }) createdAt!: Date;
}
