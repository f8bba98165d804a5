import { inventoryNodes } from '../collect/collection.js';
import { createDeployment, DeployInputError, parseDeployRequest, runDeployment, type DeployDeps, type DeploymentSummary } from '../deploy/index.js';
import type { DeploymentAction } from '../domain/index.js';
import { getDeployment } from '../store/deployments.js';
import { badRequest, notFound } from './errors.js';
import { makeHandler, type EdgefleetContext } from './middleware.js';
import { progress } from './progress.js';

export const DEPLOYMENT_ID = /^[0-9a-f]{12}$/;

/** What the deployment use case needs, the store either kind (its SQL port). */
export async function deployDeps(name: string, ctx: EdgefleetContext): Promise<DeployDeps> {
  return {
    db: (await ctx.store()).sql,
    config: ctx.config,
    pool: ctx.pool,
    log: ctx.log,
    inventory: inventoryNodes(ctx.config),
    onStep: (id, node, step) => progress.emit('deploy', name, id, node, step),
  };
}

/** A request the use case refuses is the caller's mistake: 400, with the reason. */
export async function asInput<T>(fn: () => T | Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (e) {
    if (e instanceof DeployInputError) throw badRequest(e.message);
    throw e;
  }
}

/**
 * deployModel, pullModel, startModel, stopModel, removeModel: the event is a request
 * (`{ "image": "lab/yolo:v8", "nodes": ["jetson-01"], "options": {…} }`, as POST /deployments
 * takes), run to the end in this invocation; or `{ "deploymentId": "…" }`, a deployment
 * recorded as queued (by POST /deployments) to run here: an async invoke's event.
 */
export function deploymentActionHandler(name: string, action: DeploymentAction) {
  return makeHandler<Record<string, unknown>, DeploymentSummary>(name, async (event, ctx) => {
    const deps = await deployDeps(name, ctx);
    let id: string;
    if (event && typeof event.deploymentId === 'string') {
      id = event.deploymentId;
      if (!DEPLOYMENT_ID.test(id)) throw badRequest('deploymentId: 12 hex digits');
      const d = await getDeployment(deps.db, id);
      if (!d) throw notFound(`no deployment ${id}`);
      if (d.status !== 'queued') throw badRequest(`deployment ${id} is ${d.status}, not queued`);
    } else {
      const req = await asInput(() => parseDeployRequest(event, { registries: ctx.config.registries.map((r) => r.name) }, action));
      if (req.action !== action) throw badRequest(`${name} runs ${action}, not ${req.action}`);
      id = (await asInput(() => createDeployment(deps, req))).id;
    }
    try {
      return await runDeployment(deps, id);
    } catch (e) {
      if (e instanceof DeployInputError) throw badRequest(e.message);
      throw e;
    }
  });
}
