import { detectAnomalies, type DetectSummary } from '../shared/detect/anomalies.js';
import { makeHandler } from '../shared/handler/middleware.js';

/** Scheduled every minute (the hub runs it beside collectAll, which never waits for it): score every new step (`detect.stepSeconds`) of every series, apply the rules to every new sample, merge episodes. */
export const handler = makeHandler<unknown, DetectSummary>('detectAnomalies', async (_event, ctx) => {
  const summary = await detectAnomalies({ db: ctx.db, nowUnixSeconds: Math.floor(Date.now() / 1000), stepSeconds: ctx.config.detect.stepSeconds, log: ctx.log });
  ctx.log.info('anomalies', { ...summary });
  return summary;
});
