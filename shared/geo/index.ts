export * from './normalize.js';
export * from './fallback.js';
export * from './rateLimit.js';
export * from './client.js';
export * from './input.js';
