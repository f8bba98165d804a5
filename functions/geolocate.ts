import { inventoryNodes } from '../shared/collect/collection.js';
import { runGeolocation, type GeolocateSummary } from '../shared/collect/geolocate.js';
import { badRequest } from '../shared/handler/errors.js';
import { makeHandler } from '../shared/handler/middleware.js';
import { progress } from '../shared/handler/progress.js';
import { isScheduledEvent, oncePerPeriod, type Skipped } from '../shared/handler/singleton.js';

/** `{ "refresh": true }` looks every address up again; `limit` caps the lookups of this run. */
export interface GeolocateEvent {
  refresh?: boolean;
  limit?: number;
}

/**
 * Scheduled daily, and `edgefleet geolocate [--refresh]`: every node's location from its inventory
 * `latitude`/`longitude` or `address` (Nominatim, one request per second, cached). Lookups stop in
 * time for the invocation's deadline; what is left waits for the next run. The daily schedule
 * runs once a day across hubs on PostgreSQL (handler/singleton.ts); a run someone asks for
 * (`edgefleet geolocate`) always goes ahead.
 */
export const handler = makeHandler<GeolocateEvent | null, GeolocateSummary | Skipped>('geolocate', async (event, ctx) => {
  const e = (event ?? {}) as Record<string, unknown>;
  if (e.refresh !== undefined && typeof e.refresh !== 'boolean') throw badRequest('refresh must be true or false');
  if (e.limit !== undefined && !(Number.isInteger(e.limit) && (e.limit as number) >= 0)) throw badRequest('limit must be a whole number ≥ 0');
  const nodes = inventoryNodes(ctx.config);
  const store = await ctx.store();
  const g = ctx.config.geocoder;
  // Leave time for one more lookup's worst case (a timeout plus a few spaced requests) before the deadline.
  const reserveMs = g.timeoutSeconds * 1000 + 8 * g.minIntervalMs;
  const run = async (): Promise<GeolocateSummary> => {
    const summary = await runGeolocation({
      store,
      nodes,
      config: ctx.config,
      log: ctx.log,
      refresh: e.refresh === true,
      maxLookups: e.limit as number | undefined,
      deadlineMs: Date.now() + Math.max(0, ctx.getRemainingTimeInMillis() - reserveMs),
      onAddress: (p, done, total) => progress.emit('address', 'geolocate', p, done, total),
    });
    const { perNode: _perNode, ...counts } = summary;
    ctx.log.info('geolocate', counts);
    return summary;
  };
  return isScheduledEvent(event) ? oncePerPeriod(store, 'geolocate', 86400, run) : run();
});
