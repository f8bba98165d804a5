import { badRequest } from '../shared/handler/errors.js';
import { makeHandler, type BytesResult, type HttpEvent, type HttpResult } from '../shared/handler/middleware.js';
import { wantsOpenMetrics } from '../shared/prometheus/exposition.js';
import { renderMetrics } from '../shared/prometheus/scrape.js';

/**
 * GET /metrics: every node as node_exporter would expose it, plus edgefleet's own series, in the
 * Prometheus text format, or OpenMetrics when `Accept` asks for it (docs/prometheus.md). On
 * either store. The hub (whose context says it takes bytes) gets the rendered UTF-8 as it is;
 * Lambda's response is JSON, so there the body is a string.
 */
export const handler = makeHandler<HttpEvent, HttpResult | BytesResult>('metrics', async (event, ctx) => {
  const q = event.queryStringParameters ?? {};
  for (const key of Object.keys(q)) throw badRequest(`unknown query parameter "${key}" (GET /metrics takes none)`);
  const accept = Object.entries(event.headers ?? {}).find(([k]) => k.toLowerCase() === 'accept')?.[1];
  const { contentType, body } = await renderMetrics(await ctx.store(), { openMetrics: wantsOpenMetrics(accept) });
  const headers = { 'content-type': contentType };
  return (ctx as { bytesBody?: boolean }).bytesBody ? { statusCode: 200, headers, body } : { statusCode: 200, headers, body: body.toString('utf8') };
});
