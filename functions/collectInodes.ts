import { collectHandler } from '../shared/handler/collect.js';

/** Scheduled: inodes per real mount from every node. */
export const handler = collectHandler('collectInodes', ['inodes']);
