import { mayRead } from '../shared/handler/apiKey.js';
import { json, makeHandler, type HttpEvent, type HttpResult } from '../shared/handler/middleware.js';
import { storeHealth, type StoreHealth } from '../shared/store/index.js';

/**
 * GET /health: the store answers; counts of nodes by status and when the last round landed.
 * Like Grafana's /api/health, anyone (a load balancer's probe) gets the status; the rest, which
 * says how big the fleet is and how it fares, only a reader (no key needed from the hub on loopback).
 * `degraded` (still 200: the hub runs, and a restart would lose the rounds held in memory) while
 * this process's rounds fail to be written: the last store error, since when, and the rounds
 * held in memory until the store takes them. The same on SQLite and PostgreSQL; a store that
 * does not answer is a 500.
 */
export const handler = makeHandler<HttpEvent, HttpResult>('health', async (event, ctx) => {
  const store = await ctx.store();
  const h = storeHealth(store);
  const status = h !== null && (h.failingSinceUnixSeconds !== null || h.bufferedRounds > 0) ? 'degraded' : 'ok';
  const lastCollectionUnixSeconds = await store.lastRoundUnixSeconds();
  if (!mayRead(event, ctx.config)) return json(200, { status });
  const byStatus = await store.sql.all<{ status: string; n: number }>('SELECT status, COUNT(*) AS n FROM nodes WHERE removed_unix_seconds IS NULL GROUP BY status ORDER BY status');
  return json(200, {
    status,
    schemaVersion: await store.schemaVersion(),
    nodes: Object.fromEntries(byStatus.map((r) => [r.status, r.n])),
    lastCollectionUnixSeconds,
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
