import { mayRead } from '../shared/handler/apiKey.js';
import { json, makeHandler, type HttpEvent, type HttpResult } from '../shared/handler/middleware.js';
import { schemaVersion } from '../shared/store/index.js';

/**
 * GET /health: the store answers; counts of nodes by status and when the last collection landed.
 * Like Grafana's /api/health, anyone (a load balancer's probe) gets the status; the rest, which
 * says how big the fleet is and how it fares, only a reader (no key needed from the hub on loopback).
 */
export const handler = makeHandler<HttpEvent, HttpResult>('health', async (event, ctx) => {
  if (!mayRead(event, ctx.config)) {
    ctx.db.prepare('SELECT 1').get();
    return json(200, { status: 'ok' });
  }
  const byStatus = Object.fromEntries(
    (ctx.db.prepare('SELECT status, COUNT(*) AS n FROM nodes WHERE removed_unix_seconds IS NULL GROUP BY status').all() as { status: string; n: number }[]).map((r) => [r.status, r.n]),
  );
  const last = ctx.db.prepare('SELECT MAX(time) AS t FROM collector_runs').get() as { t: number | null };
  return json(200, { status: 'ok', schemaVersion: schemaVersion(ctx.db), nodes: byStatus, lastCollectionUnixSeconds: last.t });
}, { open: true });
