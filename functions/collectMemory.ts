import { collectHandler } from '../shared/handler/collect.js';

/** Scheduled: memory from every node. */
export const handler = collectHandler('collectMemory', ['memory']);
