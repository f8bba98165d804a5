export * from './node.js';
export * from './readings.js';
export * from './log.js';
export * from './location.js';
export * from './model.js';
export * from './deployment.js';
export * from './inference.js';
export * from './secrets.js';
