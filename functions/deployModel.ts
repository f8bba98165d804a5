import { deploymentActionHandler } from '../shared/handler/deploy.js';

/** The deploy action on each target node (see shared/handler/deploy.ts for the event). */
export const handler = deploymentActionHandler('deployModel', 'deploy');
