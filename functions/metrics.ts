import { badRequest } from '../shared/handler/errors.js';
import { makeHandler, type HttpEvent, type HttpResult } from '../shared/handler/middleware.js';
import { wantsOpenMetrics } from '../shared/prometheus/exposition.js';
import { renderMetrics } from '../shared/prometheus/scrape.js';

/**
 * GET /metrics: every node as node_exporter would expose it, plus edgefleet's own series, in the
 * Prometheus text format, or OpenMetrics when `Accept` asks for it (docs/prometheus.md).
 */
export const handler = makeHandler<HttpEvent, HttpResult>('metrics', async (event, ctx) => {
  const q = event.queryStringParameters ?? {};
  for (const key of Object.keys(q)) throw badRequest(`unknown query parameter "${key}" (GET /metrics takes none)`);
  const accept = Object.entries(event.headers ?? {}).find(([k]) => k.toLowerCase() === 'accept')?.[1];
  const { contentType, body } = renderMetrics(ctx.db, { openMetrics: wantsOpenMetrics(accept) });
  return { statusCode: 200, headers: { 'content-type': contentType }, body };
});
