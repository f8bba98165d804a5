import { modelStatus, resolveTargets } from '../shared/deploy/index.js';
import { asInput, deployDeps } from '../shared/handler/deploy.js';
import { badRequest } from '../shared/handler/errors.js';
import { makeHandler } from '../shared/handler/middleware.js';
import { isRepositoryName } from '../shared/parse/registry.js';

/**
 * status: the edgefleet containers on each node as its engine lists them now (`{ "model":
 * "lab/yolo", "nodes": ["a"] }` or `"group"`; every inventory host when neither is given).
 */
export const handler = makeHandler<{ model?: string; nodes?: string[]; group?: string }, { nodes: Awaited<ReturnType<typeof modelStatus>> }>('modelStatus', async (event, ctx) => {
  const e = event ?? {};
  if (e.model !== undefined && (typeof e.model !== 'string' || !isRepositoryName(e.model))) throw badRequest('model: not a repository name');
  if (e.nodes !== undefined && (!Array.isArray(e.nodes) || !e.nodes.every((n) => typeof n === 'string'))) throw badRequest('nodes: a list of inventory host names');
  if (e.group !== undefined && typeof e.group !== 'string') throw badRequest('group: an inventory group name');
  const deps = await deployDeps('modelStatus', ctx);
  const target = { ...(e.model ? { repository: e.model } : {}), ...(e.nodes ? { nodes: e.nodes } : {}), ...(e.group !== undefined ? { group: e.group } : {}) };
  await asInput(() => resolveTargets(deps.inventory, target.nodes || target.group !== undefined ? target : { group: 'all' }));
  const result = await modelStatus(deps, target);
  return { nodes: result };
});
