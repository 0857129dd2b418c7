export * from './health.js';
export * from './bootstrap.js';
