import { NODE_STATUSES } from '../shared/domain/index.js';
import { badRequest } from '../shared/handler/errors.js';
import { json, makeHandler, type HttpEvent, type HttpResult } from '../shared/handler/middleware.js';

const NAME = /^[A-Za-z0-9_.:-]{1,255}$/;

/** GET /nodes[?group=G&status=S&removed=true]: the nodes table with each node's latest readings (either store). */
export const handler = makeHandler<HttpEvent, HttpResult>('listNodes', async (event, ctx) => {
  const q = event.queryStringParameters ?? {};
  for (const key of Object.keys(q)) if (!['group', 'status', 'removed'].includes(key)) throw badRequest(`unknown query parameter "${key}" (known: group, status, removed)`);
  if (q.group !== undefined && !NAME.test(q.group)) throw badRequest(`group must match ${NAME}`);
  if (q.status !== undefined && !(NODE_STATUSES as readonly string[]).includes(q.status)) throw badRequest(`status must be one of ${NODE_STATUSES.join(', ')}`);
  if (q.removed !== undefined && !['true', 'false'].includes(q.removed)) throw badRequest('removed must be true or false');
  const store = await ctx.store();
  const latest = await store.latestReadings();
  const nodes = (await store.listNodes({ includeRemoved: q.removed === 'true' }))
    .filter((n) => (q.group === undefined || n.groups.includes(q.group)) && (q.status === undefined || n.status === q.status))
    .map(({ vars: _vars, ...n }) => ({ ...n, latest: latest.get(n.name) ?? null }));
  return json(200, { nodes });
});
