import { inventoryNodes } from '../shared/collect/collection.js';
import { collectInference, type InferenceCollectSummary } from '../shared/collect/inference.js';
import { makeHandler } from '../shared/handler/middleware.js';

/**
 * Scheduled (the hub: every hub.intervalSeconds): every edgefleet container's new stdout lines,
 * from each one's stored cursor, parsed as the inference protocol into the inference table.
 */
export const handler = makeHandler<unknown, InferenceCollectSummary>('collectInference', async (_event, ctx) => {
  const summary = await collectInference({ db: ctx.db, config: ctx.config, pool: ctx.pool, log: ctx.log, inventory: inventoryNodes(ctx.config) });
  ctx.log.info('inference', { nodes: summary.nodes, containers: summary.containers, lines: summary.linesRead, inferences: summary.inferences, ignored: summary.ignored, invalid: summary.invalid, failed: summary.failed.length, durationMs: summary.durationMs });
  return summary;
});
