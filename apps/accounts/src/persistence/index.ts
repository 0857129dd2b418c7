import { MessagingTables1764800000000 } from '@thk/persistence';
import { AccountsSchema1764900000000 } from './accounts-schema.migration.js';
import { AgentEntity } from './agent.entity.js';
import { CloudKeySecretEntity } from './cloud-key-secret.entity.js';
import { KeyAccountEntity } from './key-account.entity.js';
import { UserEntity } from './user.entity.js';

export { AgentEntity, CloudKeySecretEntity, KeyAccountEntity, UserEntity };
export type { StoredKdf } from './cloud-key-secret.entity.js';
export type { KeyKind } from './key-account.entity.js';
export { keyAccountAssignments, keyAccountOfRow, keyAccountValues, type KeyAccountRow } from './key-account.row.js';

export const accountsEntities = [UserEntity, KeyAccountEntity, CloudKeySecretEntity, AgentEntity];
/** The outbox and inbox first, as every service lists them. */
export const accountsMigrations = [MessagingTables1764800000000, AccountsSchema1764900000000];
