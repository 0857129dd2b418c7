export * from './database.js';
export * from './messaging-tables.migration.js';
export * from './unit-of-work.js';
export * from './outbox-relay.js';
