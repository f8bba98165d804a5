import { makeHandler } from '../shared/handler/middleware.js';
import { updateRollups, type RollupSummary } from '../shared/store/index.js';

/** Scheduled every minute: 1-minute and 1-hour rollups, incrementally from their watermarks. */
export const handler = makeHandler<unknown, { levels: RollupSummary[]; durationMs: number }>('rollup', async (_event, ctx) => {
  const t0 = performance.now();
  const levels = await updateRollups(ctx.db, Math.floor(Date.now() / 1000));
  const durationMs = Math.round(performance.now() - t0);
  ctx.log.info('rollups', { levels: levels.map((l) => `${l.level}: ${l.buckets} buckets, ${l.rows} rows`), durationMs });
  return { levels, durationMs };
});
