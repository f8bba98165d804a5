import { collectHandler } from '../shared/handler/collect.js';

/** Scheduled: storage from every node. */
export const handler = collectHandler('collectStorage', ['storage']);
