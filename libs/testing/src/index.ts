export * from './container-runtime.js';
export * from './postgres.js';
export * from './nats.js';
export * from './softhsm.js';
export * from './metrics.js';
