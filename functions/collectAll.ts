import { collectHandler } from '../shared/handler/collect.js';

/** Scheduled: create or upgrade the database, sync the nodes, run every configured collector in one probe per node. */
export const handler = collectHandler('collectAll');
