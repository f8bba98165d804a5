import { collectHandler } from '../shared/handler/collect.js';

/** Scheduled: temperature from every node. */
export const handler = collectHandler('collectTemperature', ['temperature']);
