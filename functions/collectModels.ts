import { syncModels, type ModelSyncSummary } from '../shared/collect/models.js';
import { makeHandler } from '../shared/handler/middleware.js';
import { oncePerPeriod, type Skipped } from '../shared/handler/singleton.js';

/** The schedule's rate (serverless.yml collectModels): on PostgreSQL one full sync an hour across all hubs. */
export const MODEL_SYNC_PERIOD_SECONDS = 3600;

const isScheduled = (event: unknown) => (event as { 'detail-type'?: unknown } | null)?.['detail-type'] === 'Scheduled Event';

/**
 * Scheduled, and `edgefleet models sync`: the model catalog of every configured registry, in
 * full (collectAll does a bounded part of it, at most every models.syncIntervalSeconds). Stops
 * in time for the invocation's deadline; what is left waits for the next run. A scheduled run on
 * a PostgreSQL store shared by many hubs runs once per period across them; a person's sync
 * (any other event) always runs.
 */
export const handler = makeHandler<unknown, ModelSyncSummary | Skipped>('collectModels', async (event, ctx) => {
  const store = await ctx.store();
  const reserveMs = Math.min(5000, ctx.config.models.timeoutSeconds * 1000);
  const sync = async () => {
    const summary = await syncModels({ db: store.sql, config: ctx.config, log: ctx.log, deadlineMs: Date.now() + Math.max(1000, ctx.getRemainingTimeInMillis() - reserveMs) });
    if (ctx.config.registries.length === 0) ctx.log.info('no registries configured (registries: in edgefleet.yaml, or EDGEFLEET_REGISTRY_URL)');
    return summary;
  };
  if (!isScheduled(event)) return sync();
  return oncePerPeriod(store, 'collectModels', MODEL_SYNC_PERIOD_SECONDS, sync);
});
