export * from './request.js';
export * from './container.js';
export * from './deploy.js';
export * from './policy.js';
