import { badRequest } from '../shared/handler/errors.js';
import { json, makeHandler, type HttpEvent, type HttpResult } from '../shared/handler/middleware.js';
import { parseSince } from '../shared/detect/since.js';
import { listAnomalies } from '../shared/store/index.js';

const NAME = /^[A-Za-z0-9_.:-]{1,255}$/;
const KNOWN = ['since', 'node', 'open'];

/** GET /anomalies[?since=DURATION|TIME&node=N&open=true]: anomalous episodes, newest first (default: the last 24 hours, and every open one). */
export const handler = makeHandler<HttpEvent, HttpResult>('listAnomalies', async (event, ctx) => {
  const q = event.queryStringParameters ?? {};
  for (const key of Object.keys(q)) if (!KNOWN.includes(key)) throw badRequest(`unknown query parameter "${key}" (known: ${KNOWN.join(', ')})`);
  const now = Math.floor(Date.now() / 1000);
  let since: number;
  try {
    since = parseSince(q.since ?? '24h', now);
  } catch (e) {
    throw badRequest(`since: ${(e as Error).message}`);
  }
  if (q.node !== undefined && !NAME.test(q.node)) throw badRequest(`node must match ${NAME}`);
  if (q.open !== undefined && !['true', 'false'].includes(q.open)) throw badRequest('open must be true or false');
  const anomalies = await listAnomalies((await ctx.store()).sql, { sinceUnixSeconds: since, ...(q.node !== undefined ? { node: q.node } : {}), open: q.open === 'true' });
  return json(200, { since, anomalies });
});
