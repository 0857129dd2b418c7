import { MessagingTables1764800000000 } from '@thk/persistence';
import { HardwareKeyRequestEntity } from './hardware-key-request.entity.js';
import { DeadlineFailures1765000000000 } from './deadline-failures.migration.js';
import { IssuanceSchema1764900000000 } from './issuance-schema.migration.js';

export { HardwareKeyRequestEntity } from './hardware-key-request.entity.js';
export { requestOfRow, type HardwareKeyRequestRow } from './hardware-key-request.row.js';

export const issuanceEntities = [HardwareKeyRequestEntity];
/** The outbox and inbox first, then the service's own tables. */
export const issuanceMigrations = [MessagingTables1764800000000, IssuanceSchema1764900000000, DeadlineFailures1765000000000];
