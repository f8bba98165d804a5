import { collectHandler } from '../shared/handler/collect.js';

/** Scheduled: CPU clocks and throttling from every node. */
export const handler = collectHandler('collectClocks', ['clocks']);
