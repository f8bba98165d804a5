import { syncModels, type ModelSyncSummary } from '../shared/collect/models.js';
import { makeHandler } from '../shared/handler/middleware.js';

/**
 * Scheduled, and `edgefleet models sync`: the model catalog of every configured registry, in
 * full (collectAll does a bounded part of it, at most every models.syncIntervalSeconds). Stops
 * in time for the invocation's deadline; what is left waits for the next run.
 */
export const handler = makeHandler<unknown, ModelSyncSummary>('collectModels', async (_event, ctx) => {
  const reserveMs = Math.min(5000, ctx.config.models.timeoutSeconds * 1000);
  const summary = await syncModels({ db: ctx.db, config: ctx.config, log: ctx.log, deadlineMs: Date.now() + Math.max(1000, ctx.getRemainingTimeInMillis() - reserveMs) });
  if (ctx.config.registries.length === 0) ctx.log.info('no registries configured (registries: in edgefleet.yaml, or EDGEFLEET_REGISTRY_URL)');
  return summary;
});
