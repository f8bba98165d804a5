import { collectHandler } from '../shared/handler/collect.js';

/** Scheduled: the Jetson GPU (load, clocks, EMC, nvpmodel) from every node. */
export const handler = collectHandler('collectTegraGpu', ['tegraGpu']);
