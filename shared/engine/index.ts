export * from './engine.js';
export * from './logs.js';
