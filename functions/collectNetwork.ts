import { collectHandler } from '../shared/handler/collect.js';

/** Scheduled: network from every node. */
export const handler = collectHandler('collectNetwork', ['network']);
