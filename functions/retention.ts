import { makeHandler } from '../shared/handler/middleware.js';
import { oncePerPeriod, type Skipped } from '../shared/handler/singleton.js';
import { applyInferenceRetention } from '../shared/store/index.js';

/** Scheduled hourly: delete samples and rollups past their retention (SQLite: in small batches; PostgreSQL: whole daily partitions, once an hour across hubs). */
export const handler = makeHandler<unknown, { deleted: Record<string, number>; durationMs: number } | Skipped>('retention', async (_event, ctx) => {
  const store = await ctx.store();
  return oncePerPeriod(store, 'retention', 3600, async () => {
    const t0 = performance.now();
    const nowUnixSeconds = Math.floor(Date.now() / 1000);
    const deleted: Record<string, number> = { ...(await store.applyRetention(ctx.config.retention, nowUnixSeconds)) };
    // Inferences: row deletes on SQLite, whole days on PostgreSQL (the table is partitioned).
    Object.assign(deleted, await applyInferenceRetention(store, ctx.config.retention, nowUnixSeconds));
    const durationMs = Math.round(performance.now() - t0);
    ctx.log.info('retention', { deleted, durationMs });
    return { deleted, durationMs };
  });
});
