import { parseModelReference, ParseError } from '../shared/parse/index.js';
import { badRequest, notFound } from '../shared/handler/errors.js';
import { json, makeHandler, type HttpEvent, type HttpResult } from '../shared/handler/middleware.js';
import { listModels } from '../shared/store/index.js';

const NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;

/**
 * GET /models/{name+}: every tag of a repository (`/models/lab/yolo`), or one
 * (`/models/lab/yolo:v8`), removed tags included; `?registry=R` when several hold the name.
 */
export const handler = makeHandler<HttpEvent, HttpResult>('getModel', async (event, ctx) => {
  const q = event.queryStringParameters ?? {};
  for (const key of Object.keys(q)) if (key !== 'registry') throw badRequest(`unknown query parameter "${key}" (known: registry)`);
  if (q.registry !== undefined && !NAME.test(q.registry)) throw badRequest(`registry must match ${NAME}`);
  let raw = event.pathParameters?.name ?? event.pathParameters?.['name+'] ?? '';
  try {
    raw = decodeURIComponent(raw);
  } catch {
    throw badRequest('name: bad percent-encoding');
  }
  let ref;
  try {
    ref = parseModelReference(raw);
  } catch (e) {
    if (e instanceof ParseError) throw badRequest(`name: ${e.message}`);
    throw e;
  }
  const models = await listModels((await ctx.store()).sql, { repository: ref.repository, ...(ref.tag !== undefined ? { tag: ref.tag } : {}), ...(q.registry !== undefined ? { registry: q.registry } : {}), includeRemoved: true });
  if (models.length === 0) throw notFound(`no model ${raw}${q.registry ? ` in registry ${q.registry}` : ''}`);
  return json(200, { models });
});
