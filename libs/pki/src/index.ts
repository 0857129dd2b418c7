import 'reflect-metadata';

export * from './pki-error.js';
export * from './der.js';
export * from './oids.js';
export * from './validity.js';
export * from './signature/signature.js';
export * from './x509/name.js';
export * from './x509/certificate.js';
export * from './x509/csr.js';
export * from './x509/extensions.js';
export * from './x509/builder.js';
export * from './x509/crl.js';
export * from './authorization/authorization.js';
export * from './testing/test-pki.js';
