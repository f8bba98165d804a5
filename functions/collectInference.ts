import { inventoryNodes } from '../shared/collect/collection.js';
import { collectInference, type InferenceCollectSummary } from '../shared/collect/inference.js';
import { heldShards } from '../shared/collect/shardLeases.js';
import { makeHandler } from '../shared/handler/middleware.js';

/**
 * Scheduled (the hub: every hub.intervalSeconds): every edgefleet container's new stdout lines,
 * from each one's stored cursor, parsed as the inference protocol into the inference table
 * (SQLite or PostgreSQL). With collect.shard, only the containers of this hub's nodes: the shard
 * `k/n` (or the event's, for a schedule fanned out by shard), or with `auto/n` the shards this
 * hub's collection round holds now.
 */
export const handler = makeHandler<unknown, InferenceCollectSummary>('collectInference', async (event, ctx) => {
  const store = await ctx.store();
  const fromEvent = (event as { shard?: unknown } | null)?.shard;
  const shard = ctx.config.collect.shard;
  let shards: string[] | undefined;
  if (typeof fromEvent === 'string' && /^[1-9]\d*\/[1-9]\d*$/.test(fromEvent)) shards = [fromEvent];
  else if (/^auto\/\d+$/.test(shard)) shards = await heldShards(store);
  else if (shard) shards = [shard];
  const summary = await collectInference({ db: store, config: ctx.config, pool: ctx.pool, log: ctx.log, inventory: inventoryNodes(ctx.config), ...(shards ? { shards } : {}) });
  ctx.log.info('inference', { nodes: summary.nodes, containers: summary.containers, lines: summary.linesRead, inferences: summary.inferences, ignored: summary.ignored, invalid: summary.invalid, failed: summary.failed.length, durationMs: summary.durationMs });
  return summary;
});
