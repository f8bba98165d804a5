import { deploymentActionHandler } from '../shared/handler/deploy.js';

/** The start action on each target node (see shared/handler/deploy.ts for the event). */
export const handler = deploymentActionHandler('startModel', 'start');
