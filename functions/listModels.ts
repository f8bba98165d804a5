import { badRequest } from '../shared/handler/errors.js';
import { json, makeHandler, type HttpEvent, type HttpResult } from '../shared/handler/middleware.js';
import { listModels } from '../shared/store/index.js';

const NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;
const PLATFORM = /^[a-z0-9_-]{1,32}(\/[a-z0-9_.-]{1,32}){1,2}$/;
const WORD = /^[A-Za-z0-9][A-Za-z0-9_.+-]{0,63}$/;

/** GET /models[?registry=R&platform=linux/arm64&task=T&removed=true]: the model catalog. */
export const handler = makeHandler<HttpEvent, HttpResult>('listModels', async (event, ctx) => {
  const q = event.queryStringParameters ?? {};
  const known = ['registry', 'platform', 'task', 'removed'];
  for (const key of Object.keys(q)) if (!known.includes(key)) throw badRequest(`unknown query parameter "${key}" (known: ${known.join(', ')})`);
  if (q.registry !== undefined && !NAME.test(q.registry)) throw badRequest(`registry must match ${NAME}`);
  if (q.platform !== undefined && !PLATFORM.test(q.platform)) throw badRequest('platform must be OS/ARCH[/VARIANT], e.g. linux/arm64');
  if (q.task !== undefined && !WORD.test(q.task)) throw badRequest(`task must match ${WORD}`);
  if (q.removed !== undefined && !['true', 'false'].includes(q.removed)) throw badRequest('removed must be true or false');
  const models = await listModels((await ctx.store()).sql, {
    ...(q.registry !== undefined ? { registry: q.registry } : {}),
    ...(q.platform !== undefined ? { platform: q.platform } : {}),
    ...(q.task !== undefined ? { task: q.task } : {}),
    includeRemoved: q.removed === 'true',
  });
  return json(200, { models });
});
