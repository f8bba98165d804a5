import { EventEmitter } from 'node:events';
import type { AddressProgress } from '../collect/geolocate.js';
import type { NodeResult } from '../collect/round.js';
import type { NodeUpdate } from '../store/deployments.js';

/**
 * Progress of long work, for whoever hosts the handlers in this process (the CLI's progress
 * line, the hub's round log). Lambda has no listener; emitting costs nothing then.
 */
export const progress = new EventEmitter<{
  node: [fn: string, result: NodeResult, done: number, total: number];
  address: [fn: string, result: AddressProgress, done: number, total: number];
  deploy: [fn: string, deploymentId: string, node: string, step: NodeUpdate];
}>();
