import type { MetricKind } from '../domain/index.js';
import { configuredKinds, inventoryNodes, runCollection, type CollectionSummary } from '../collect/collection.js';
import { makeHandler } from './middleware.js';
import { progress } from './progress.js';

/** A scheduled collector: sync the nodes, collect `kinds` (all configured kinds when absent) once. */
export function collectHandler(name: string, kinds?: readonly MetricKind[]) {
  return makeHandler<unknown, CollectionSummary>(name, async (_event, ctx) => {
    // The inventory first: a malformed one fails the run before the database is opened or created.
    const nodes = inventoryNodes(ctx.config);
    const summary = await runCollection({
      config: ctx.config,
      nodes,
      db: ctx.db,
      pool: ctx.pool,
      log: ctx.log,
      kinds: kinds ?? configuredKinds(ctx.config),
      onNode: (r, done, total) => progress.emit('node', name, r, done, total),
    });
    ctx.log.info('round', { nodes: summary.nodes, ok: summary.ok, failed: summary.failed, rows: summary.rows, durationMs: summary.durationMs });
    return summary;
  });
}
