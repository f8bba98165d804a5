import { mayRead } from '../shared/handler/apiKey.js';
import { json, makeHandler, type HttpEvent, type HttpResult } from '../shared/handler/middleware.js';
import type { EdgefleetContext } from '../shared/handler/middleware.js';
import { schemaVersion, storeHealth, type Store, type StoreHealth } from '../shared/store/index.js';

/**
 * GET /health: the store answers; counts of nodes by status and when the last round landed.
 * Like Grafana's /api/health, anyone (a load balancer's probe) gets the status; the rest, which
 * says how big the fleet is and how it fares, only a reader (no key needed from the hub on loopback).
 * `degraded` (still 200: the hub runs, and a restart would lose the rounds held in memory) while
 * this process's rounds fail to be written: the last store error, since when, and the rounds
 * held in memory until the store takes them.
 */
export const handler = makeHandler<HttpEvent, HttpResult>('health', async (event, ctx) => {
  const store = await ctx.store();
  if (!store.sqlite) return pgHealth(event, ctx, store);
  const h = storeHealth(ctx.db);
  const status = h !== null && (h.failingSinceUnixSeconds !== null || h.bufferedRounds > 0) ? 'degraded' : 'ok';
  if (!mayRead(event, ctx.config)) {
    ctx.db.prepare('SELECT 1').get();
    return json(200, { status });
  }
  const byStatus = Object.fromEntries(
    (ctx.db.prepare('SELECT status, COUNT(*) AS n FROM nodes WHERE removed_unix_seconds IS NULL GROUP BY status').all() as { status: string; n: number }[]).map((r) => [r.status, r.n]),
  );
  const last = ctx.db.prepare('SELECT MAX(time) AS t FROM rounds').get() as { t: number | null };
  return json(200, {
    status,
    schemaVersion: schemaVersion(ctx.db),
    nodes: byStatus,
    lastCollectionUnixSeconds: last.t,
    store: storeSection(h),
  });
}, { open: true });

const storeSection = (h: StoreHealth | null) => ({
  lastError: h?.lastError ?? null,
  lastErrorUnixSeconds: h?.lastErrorUnixSeconds ?? null,
  failingSinceUnixSeconds: h?.failingSinceUnixSeconds ?? null,
  bufferedRounds: h?.bufferedRounds ?? 0,
  bufferedBytes: h?.bufferedBytes ?? 0,
  droppedRounds: h?.droppedRounds ?? 0,
});

/** The same answer from a PostgreSQL store (a query that fails is a 500, as on SQLite). */
async function pgHealth(event: HttpEvent, ctx: EdgefleetContext, store: Store): Promise<HttpResult> {
  const h = storeHealth(store);
  const status = h !== null && (h.failingSinceUnixSeconds !== null || h.bufferedRounds > 0) ? 'degraded' : 'ok';
  const lastCollectionUnixSeconds = await store.lastRoundUnixSeconds();
  if (!mayRead(event, ctx.config)) return json(200, { status });
  const nodes: Record<string, number> = {};
  for (const n of await store.listNodes()) nodes[n.status] = (nodes[n.status] ?? 0) + 1;
  return json(200, { status, schemaVersion: await store.schemaVersion(), nodes, lastCollectionUnixSeconds, store: storeSection(h) });
}
