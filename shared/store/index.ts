export * from './db.js';
export * from './nodes.js';
export * from './readings.js';
export * from './latest.js';
