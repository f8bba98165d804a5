import { collectHandler } from '../shared/handler/collect.js';

/** Scheduled: disk I/O per whole disk from every node. */
export const handler = collectHandler('collectDiskio', ['diskio']);
