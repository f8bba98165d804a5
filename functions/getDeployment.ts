import { requireApiKey } from '../shared/handler/apiKey.js';
import { DEPLOYMENT_ID } from '../shared/handler/deploy.js';
import { badRequest, notFound } from '../shared/handler/errors.js';
import { json, makeHandler, type HttpEvent, type HttpResult } from '../shared/handler/middleware.js';
import { deploymentEvents, deploymentNodes, getDeployment, recoverInterruptedDeployments } from '../shared/store/index.js';

/** GET /deployments/{id} (API key): the deployment, each node's state and progress, and every event in order. */
export const handler = makeHandler<HttpEvent, HttpResult>('getDeployment', async (event, ctx) => {
  requireApiKey(event, ctx.config, { access: 'read', always: true });
  const id = event.pathParameters?.id ?? '';
  if (!DEPLOYMENT_ID.test(id)) throw badRequest('id: 12 hex digits');
  // What a dead process left `running` is shown as it is: interrupted.
  const sql = (await ctx.store()).sql;
  await recoverInterruptedDeployments(sql, Date.now());
  const d = await getDeployment(sql, id);
  if (!d) throw notFound(`no deployment ${id}`);
  return json(200, { ...d, nodes: await deploymentNodes(sql, id), events: await deploymentEvents(sql, id) });
});
