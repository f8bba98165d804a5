export * from './db.js';
export * from './nodes.js';
export * from './readings.js';
export * from './latest.js';
export * from './rollups.js';
export * from './retention.js';
export * from './geocode.js';
