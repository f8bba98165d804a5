import { collectHandler } from '../shared/handler/collect.js';

/** Scheduled: pressure stall information from every node. */
export const handler = collectHandler('collectPressure', ['pressure']);
