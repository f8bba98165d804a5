import { inferenceStats, modelFilter } from '../shared/collect/inferenceStats.js';
import { parseSince } from '../shared/detect/since.js';
import { badRequest } from '../shared/handler/errors.js';
import { json, makeHandler, type HttpEvent, type HttpResult } from '../shared/handler/middleware.js';

const NAME = /^[A-Za-z0-9_.:-]{1,255}$/;
const MODEL = /^[a-z0-9][a-z0-9._/-]{0,254}(:[A-Za-z0-9_][A-Za-z0-9_.-]{0,127})?$/;
const KNOWN = ['since', 'until', 'model', 'node'];

/**
 * GET /inference/stats[?since=1h&until=…&model=lab/iris[:v1]&node=N]: per model × tag × node,
 * count, throughput, latency percentiles, error rate, accuracy, cold start, the node's
 * temperature and CPU meanwhile (default: the last hour).
 */
export const handler = makeHandler<HttpEvent, HttpResult>('inferenceStats', async (event, ctx) => {
  const q = event.queryStringParameters ?? {};
  for (const key of Object.keys(q)) if (!KNOWN.includes(key)) throw badRequest(`unknown query parameter "${key}" (known: ${KNOWN.join(', ')})`);
  const now = Math.floor(Date.now() / 1000);
  let since: number;
  let until: number;
  try {
    since = parseSince(q.since ?? '1h', now);
    until = q.until !== undefined ? parseSince(q.until, now) : now;
  } catch (e) {
    throw badRequest(`since/until: ${(e as Error).message}`);
  }
  if (q.node !== undefined && !NAME.test(q.node)) throw badRequest(`node must match ${NAME}`);
  if (q.model !== undefined && !MODEL.test(q.model)) throw badRequest('model: a repository name, optionally with :tag');
  const m = q.model !== undefined ? modelFilter(q.model) : undefined;
  const stats = await inferenceStats(await ctx.store(), { fromUnixSeconds: since, toUnixSeconds: until, ...(m ? m : {}), ...(q.node !== undefined ? { node: q.node } : {}) });
  return json(200, { since, until, stats });
});
