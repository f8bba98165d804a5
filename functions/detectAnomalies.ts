import { detectAnomalies, type DetectSummary } from '../shared/detect/anomalies.js';
import { DETECTORS } from '../shared/detect/detector.js';
import { makeHandler } from '../shared/handler/middleware.js';
import { oncePerPeriod, type Skipped } from '../shared/handler/singleton.js';

/**
 * Scheduled every minute (the hub runs it beside collectAll, which never waits for it): score every new step (`detect.stepSeconds`) of every series (`detect.detector`; new extremes gated by `detect.recordProfileSigma`), apply the rules to every new sample, merge episodes.
 * Once a minute across hubs on PostgreSQL (handler/singleton.ts).
 */
export const handler = makeHandler<unknown, DetectSummary | Skipped>('detectAnomalies', async (_event, ctx) => {
  const store = await ctx.store();
  return oncePerPeriod(store, 'detectAnomalies', 60, async () => {
    const { detector, recordProfileSigma, stepSeconds } = ctx.config.detect;
    const config = { ...DETECTORS[detector], recordProfileSigma };
    const summary = await detectAnomalies({ db: store.sql, nowUnixSeconds: Math.floor(Date.now() / 1000), stepSeconds, detector, config, log: ctx.log });
    ctx.log.info('anomalies', { ...summary });
    return summary;
  });
});
