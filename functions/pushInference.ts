import { InferencePushError, pushInference } from '../shared/collect/inference.js';
import { requireApiKey } from '../shared/handler/apiKey.js';
import { badRequest } from '../shared/handler/errors.js';
import { json, jsonBody, makeHandler, type HttpEvent, type HttpResult } from '../shared/handler/middleware.js';

/**
 * POST /inference (API key): `{ "node": "jetson-01", "deployment": "a1b2c3d4e5f6" | "model": "lab/iris",
 * "tag": "v1", "inferences": [ {"ts": …, "latency_ms": …, …}, … ] }` (docs/inference-protocol.md).
 * All or nothing; a retried batch is stored once (200 with stored and duplicates).
 */
export const handler = makeHandler<HttpEvent, HttpResult>('pushInference', async (event, ctx) => {
  requireApiKey(event, ctx.config);
  const body = jsonBody(event);
  try {
    return json(200, await pushInference(await ctx.store(), body, Date.now()));
  } catch (e) {
    if (e instanceof InferencePushError) throw badRequest(e.message);
    throw e;
  }
});
