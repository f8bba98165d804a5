import { deploymentActionHandler } from '../shared/handler/deploy.js';

/** The pull action on each target node (see shared/handler/deploy.ts for the event). */
export const handler = deploymentActionHandler('pullModel', 'pull');
