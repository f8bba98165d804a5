import { collectHandler } from '../shared/handler/collect.js';

/** Scheduled: cpu from every node. */
export const handler = collectHandler('collectCpu', ['cpu']);
