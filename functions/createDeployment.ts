import { createDeployment, parseDeployRequest, runDeployment } from '../shared/deploy/index.js';
import { requireApiKey } from '../shared/handler/apiKey.js';
import { runInBackground } from '../shared/handler/background.js';
import { asInput, deployDeps } from '../shared/handler/deploy.js';
import { json, jsonBody, makeHandler, type HttpEvent, type HttpResult } from '../shared/handler/middleware.js';
import { deploymentNodes } from '../shared/store/index.js';

/**
 * POST /deployments (API key): `{ "image": "lab/yolo:v8", "nodes": ["a", "b"] | "group": "g",
 * "registry"?: "lab", "options"?: { env, ports, volumes, restart, graceSeconds, concurrency } }`.
 * The deployment is recorded with every node `queued` and its id returned at once (202); the
 * work goes on in this process after the response (the hub), its progress in the store, read
 * by GET /deployments/{id}.
 */
export const handler = makeHandler<HttpEvent, HttpResult>('createDeployment', async (event, ctx) => {
  requireApiKey(event, ctx.config);
  const body = jsonBody(event);
  const req = await asInput(() => parseDeployRequest(body, { registries: ctx.config.registries.map((r) => r.name) }));
  const deps = await deployDeps('createDeployment', ctx);
  const d = await asInput(() => createDeployment(deps, req));
  const log = ctx.log;
  runInBackground(
    () => runDeployment(deps, d.id),
    (e) => log.error('deployment failed', { deployment: d.id, error: e.message }),
  );
  log.info('deployment queued', { deployment: d.id, image: d.image, action: d.action });
  return json(202, { id: d.id, status: d.status, action: d.action, image: d.image, nodes: (await deploymentNodes(deps.db, d.id)).map((n) => n.node), href: `/deployments/${d.id}` });
});
