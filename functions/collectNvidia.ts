import { collectHandler } from '../shared/handler/collect.js';

/** Scheduled: NVIDIA GPUs from every node where nvidia-smi is installed. */
export const handler = collectHandler('collectNvidia', ['nvidia']);
