import { makeHandler } from '../shared/handler/middleware.js';
import { applyInferenceRetention, applyRetention } from '../shared/store/index.js';

/** Scheduled hourly: delete samples and rollups past their retention, in small batches. */
export const handler = makeHandler<unknown, { deleted: Record<string, number>; durationMs: number }>('retention', async (_event, ctx) => {
  const t0 = performance.now();
  const nowUnixSeconds = Math.floor(Date.now() / 1000);
  const deleted: Record<string, number> = { ...(await applyRetention(ctx.db, ctx.config.retention, nowUnixSeconds)), ...(await applyInferenceRetention(ctx.db, ctx.config.retention, nowUnixSeconds)) };
  const durationMs = Math.round(performance.now() - t0);
  ctx.log.info('retention', { deleted, durationMs });
  return { deleted, durationMs };
});
