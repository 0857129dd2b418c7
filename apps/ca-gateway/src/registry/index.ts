import { MessagingTables1764800000000 } from '@thk/persistence';
import { CaAuthorityEntity } from './ca-authority.entity.js';
import { CaSchema1765000000000 } from './ca-schema.migration.js';
import { CrlEntity } from './crl.entity.js';
import { IssueRequestEntity } from './issue-request.entity.js';
import { IssuedCertificateEntity } from './issued-certificate.entity.js';

export { CaAuthorityEntity, CrlEntity, IssueRequestEntity, IssuedCertificateEntity };
export type { CaKeyStorage } from './ca-authority.entity.js';
export type { CertificateProfileName } from './issued-certificate.entity.js';

export const caEntities = [CaAuthorityEntity, IssuedCertificateEntity, IssueRequestEntity, CrlEntity];
/** The outbox and inbox first, as every service lists them. */
export const caMigrations = [MessagingTables1764800000000, CaSchema1765000000000];
