import { makeHandler } from '../shared/handler/middleware.js';
import { oncePerPeriod, type Skipped } from '../shared/handler/singleton.js';
import type { RollupSummary } from '../shared/store/index.js';

/** Scheduled every minute: 1-minute and 1-hour rollups, incrementally from their watermarks (once a minute across hubs on PostgreSQL). */
export const handler = makeHandler<unknown, { levels: RollupSummary[]; durationMs: number } | Skipped>('rollup', async (_event, ctx) => {
  const store = await ctx.store();
  return oncePerPeriod(store, 'rollup', 60, async () => {
    const t0 = performance.now();
    const levels = await store.updateRollups(Math.floor(Date.now() / 1000));
    const durationMs = Math.round(performance.now() - t0);
    ctx.log.info('rollups', { levels: levels.map((l) => `${l.level}: ${l.buckets} buckets, ${l.rows} rows`), durationMs });
    return { levels, durationMs };
  });
});
