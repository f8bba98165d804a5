import { collectHandler } from '../shared/handler/collect.js';

/** Scheduled: power rails and RAPL from every node. */
export const handler = collectHandler('collectPower', ['power']);
