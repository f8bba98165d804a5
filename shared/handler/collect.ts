import type { MetricKind } from '../domain/index.js';
import { configuredKinds, inventoryNodes, runCollection, type CollectionSummary } from '../collect/collection.js';
import { geolocate, type GeolocateSummary } from '../collect/geolocate.js';
import { makeHandler } from './middleware.js';
import { progress } from './progress.js';

/** A scheduled collector: sync the nodes, collect `kinds` (all configured kinds when absent) once. */
export function collectHandler(name: string, kinds?: readonly MetricKind[]) {
  return makeHandler<unknown, CollectionSummary & { geolocation?: Omit<GeolocateSummary, 'perNode'> | { error: string } }>(name, async (_event, ctx) => {
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
    if (kinds !== undefined) return summary;
    // collectAll also puts the nodes on the map, after the round and bounded: inventory coordinates
    // and cached addresses cost nothing; at most geocoder.perRoundLimit addresses are looked up
    // (the daily geolocate handler does the rest), and a failure never fails the collection.
    try {
      const { perNode: _perNode, ...geolocation } = await geolocate({ db: ctx.db, nodes, config: ctx.config, log: ctx.log, maxLookups: Math.max(0, ctx.config.geocoder.perRoundLimit) });
      if (geolocation.lookups) ctx.log.info('geolocation', geolocation);
      return { ...summary, geolocation };
    } catch (e) {
      ctx.log.warn('geolocation failed', { error: (e as Error).message });
      return { ...summary, geolocation: { error: (e as Error).message } };
    }
  });
}
