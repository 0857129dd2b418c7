export * from './health.js';
export * from './bootstrap.js';
export * from './run-main.js';
