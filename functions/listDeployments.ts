import { requireApiKey } from '../shared/handler/apiKey.js';
import { badRequest } from '../shared/handler/errors.js';
import { json, makeHandler, type HttpEvent, type HttpResult } from '../shared/handler/middleware.js';
import { isRepositoryName } from '../shared/parse/registry.js';
import { deploymentNodes, listDeployments, recoverInterruptedDeployments } from '../shared/store/index.js';

/** GET /deployments[?model=lab/yolo&limit=50] (API key): newest first, each with its nodes' states. */
export const handler = makeHandler<HttpEvent, HttpResult>('listDeployments', async (event, ctx) => {
  requireApiKey(event, ctx.config, { access: 'read', always: true });
  const q = event.queryStringParameters ?? {};
  for (const key of Object.keys(q)) if (key !== 'model' && key !== 'limit') throw badRequest(`unknown query parameter "${key}" (known: model, limit)`);
  if (q.model !== undefined && !isRepositoryName(q.model)) throw badRequest('model: not a repository name');
  const limit = q.limit === undefined ? 50 : Number(q.limit);
  if (!Number.isInteger(limit) || limit < 1 || limit > 1000) throw badRequest('limit: an integer, 1 to 1000');
  const sql = (await ctx.store()).sql;
  await recoverInterruptedDeployments(sql, Date.now());
  const list = await listDeployments(sql, { limit, ...(q.model !== undefined ? { repository: q.model } : {}) });
  const deployments = [];
  for (const d of list) deployments.push({ ...d, nodes: await deploymentNodes(sql, d.id) });
  return json(200, { deployments });
});
