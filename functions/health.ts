import { json, makeHandler, type HttpEvent, type HttpResult } from '../shared/handler/middleware.js';
import { schemaVersion } from '../shared/store/index.js';

/** GET /health: the store answers; counts of nodes by status and when the last collection landed. */
export const handler = makeHandler<HttpEvent, HttpResult>('health', async (_event, ctx) => {
  const byStatus = Object.fromEntries(
    (ctx.db.prepare('SELECT status, COUNT(*) AS n FROM nodes WHERE removed_unix_seconds IS NULL GROUP BY status').all() as { status: string; n: number }[]).map((r) => [r.status, r.n]),
  );
  const last = ctx.db.prepare('SELECT MAX(time) AS t FROM collector_runs').get() as { t: number | null };
  return json(200, { status: 'ok', schemaVersion: schemaVersion(ctx.db), nodes: byStatus, lastCollectionUnixSeconds: last.t });
});
