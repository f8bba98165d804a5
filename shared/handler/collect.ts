import type { MetricKind } from '../domain/index.js';
import { configuredKinds, inventoryNodes, runCollection, type CollectionSummary } from '../collect/collection.js';
import { geolocate, type GeolocateSummary } from '../collect/geolocate.js';
import { syncModels, type ModelSyncSummary } from '../collect/models.js';
import { makeHandler } from './middleware.js';
import { progress } from './progress.js';
import { flushRemoteWrite } from '../prometheus/remoteWrite.js';
import type { EdgefleetContext } from './middleware.js';
import { HUB_ID, leaseShards } from '../collect/shardLeases.js';
import type { Store } from '../store/store.js';
import { oncePerPeriod } from './singleton.js';

/**
 * The shards this round collects: collect.shard as it is (`k/n`, or all), or with `auto/n` the
 * ones this hub's leases hold (shared/collect/shardLeases.ts), leased for three rounds.
 */
async function collectShards(ctx: EdgefleetContext, store: Store, event: unknown): Promise<string[] | undefined> {
  // A schedule fanned out by shard (serverless.yml collectShards) says which in its event.
  const fromEvent = (event as { shard?: unknown } | null)?.shard;
  if (fromEvent !== undefined) {
    if (typeof fromEvent !== 'string' || !/^[1-9]\d*\/[1-9]\d*$/.test(fromEvent) || Number(fromEvent.split('/')[0]) > Number(fromEvent.split('/')[1])) {
      throw new Error(`event.shard: expected k/n with 1 ≤ k ≤ n, got ${JSON.stringify(fromEvent)}`);
    }
    return [fromEvent];
  }
  const m = /^auto\/(\d+)$/.exec(ctx.config.collect.shard);
  if (!m) return undefined;
  const shards = await leaseShards(store, Number(m[1]), Math.max(1, ctx.config.hub.intervalSeconds) * 3000);
  ctx.log.debug('shards', { shards });
  // No shard free: nothing to collect this round (an empty list, not "all").
  return shards.length ? shards : ['0/1'];
}

/**
 * Two rounds that start in one second share its `time`: the store keeps the later, and remote
 * write would hand Prometheus two values at one timestamp, which it refuses (a 400 for the whole
 * request). With remote write configured, a round that would start in the second of the last
 * one waits for the next second (at most a second, and only at intervals of about a second).
 * Many hubs on one PostgreSQL: only this hub's rounds count (their series are its own).
 */
async function notInTheSameSecond(ctx: EdgefleetContext): Promise<void> {
  const p = ctx.config.prometheus;
  if (!Array.isArray(p.remoteWrite) || p.remoteWrite.length === 0) return;
  const store = await ctx.store();
  // This hub's own rounds (hub NULL: an unsharded one): other hubs' series are not this one's.
  // Newest first by rounds_time: the first match is a few rows in.
  const last = (await store.sql.get<{ t: number }>('SELECT time AS t FROM rounds WHERE hub = ? OR hub IS NULL ORDER BY time DESC LIMIT 1', [HUB_ID]))?.t ?? null;
  if (last !== null && last >= Math.floor(Date.now() / 1000)) await new Promise((r) => setTimeout(r, Math.min(1100, (last + 1) * 1000 - Date.now() + 5)));
}

/**
 * After the round, send what the remote-write queue holds for at most prometheus.flushSeconds
 * (and never past the Lambda's own deadline); what is left waits in the store for the next
 * round. A failing endpoint never fails the collection.
 */
async function sendRemoteWrite(ctx: EdgefleetContext): Promise<void> {
  const p = ctx.config.prometheus;
  if (!Array.isArray(p.remoteWrite) || p.remoteWrite.length === 0) return;
  const store = await ctx.store();
  const left = typeof ctx.getRemainingTimeInMillis === 'function' ? ctx.getRemainingTimeInMillis() - 1000 : Infinity;
  try {
    const sent = await flushRemoteWrite({ db: store.sql, config: ctx.config, log: ctx.log, deadlineMs: Date.now() + Math.max(0, Math.min(p.flushSeconds * 1000, left)) });
    for (const s of sent) if (s.sentRequests || s.droppedSamples || s.stopped) ctx.log.debug('remote write', { ...s });
  } catch (e) {
    ctx.log.warn('remote write failed', { error: (e as Error).message });
  }
}

/** A scheduled collector: sync the nodes, collect `kinds` (all configured kinds when absent) once. */
export function collectHandler(name: string, kinds?: readonly MetricKind[]) {
  return makeHandler<unknown, CollectionSummary & { geolocation?: Omit<GeolocateSummary, 'perNode'> | { error: string }; models?: ModelSyncSummary | { error: string } }>(name, async (event, ctx) => {
    // The inventory first: a malformed one fails the run before the database is opened or created.
    const nodes = inventoryNodes(ctx.config);
    await notInTheSameSecond(ctx);
    const store = await ctx.store();
    const summary = await runCollection({
      config: ctx.config,
      nodes,
      store,
      shards: await collectShards(ctx, store, event),
      pool: ctx.pool,
      log: ctx.log,
      kinds: kinds ?? configuredKinds(ctx.config),
      onNode: (r, done, total) => progress.emit('node', name, r, done, total),
    });
    ctx.log.info('round', {
      nodes: summary.nodes, ok: summary.ok, failed: summary.failed, rows: summary.rows, durationMs: summary.durationMs, stored: summary.stored, bufferedRounds: summary.bufferedRounds,
    });
    await sendRemoteWrite(ctx);
    if (kinds !== undefined) return summary;
    // collectAll also puts the nodes on the map, after the round and bounded: inventory coordinates
    // and cached addresses cost nothing; at most geocoder.perRoundLimit addresses are looked up
    // (the daily geolocate handler does the rest), and a failure never fails the collection.
    // Many hubs on one PostgreSQL: one of them does it (the `geolocate:rounds` lease, three rounds long).
    let geolocation: Omit<GeolocateSummary, 'perNode'> | { error: string } | undefined;
    try {
      if (store.sqlite || (await store.tryLease('geolocate:rounds', HUB_ID, Math.max(1, ctx.config.hub.intervalSeconds) * 3000))) {
        const { perNode: _perNode, ...located } = await geolocate({ db: store.sql, nodes, config: ctx.config, log: ctx.log, maxLookups: Math.max(0, ctx.config.geocoder.perRoundLimit) });
        if (located.lookups) ctx.log.info('geolocation', located);
        geolocation = located;
      }
    } catch (e) {
      ctx.log.warn('geolocation failed', { error: (e as Error).message });
      geolocation = { error: (e as Error).message };
    }
    const withGeo = geolocation ? { ...summary, geolocation } : summary;
    // Then the model catalog, bounded by models.perRoundSeconds and at most every
    // models.syncIntervalSeconds per registry (the collectModels schedule syncs it in full);
    // a registry that fails never fails the collection. On a PostgreSQL store shared by many
    // hubs, one hub per interval does it (it may overlap another hub's full sync: both upsert).
    if (ctx.config.registries.length === 0) return withGeo;
    try {
      const sync = () => syncModels({ db: store.sql, config: ctx.config, log: ctx.log, onlyDue: true, deadlineMs: Date.now() + Math.max(0, ctx.config.models.perRoundSeconds) * 1000 });
      // Claimed every half interval, the registry's own due check (onlyDue) spacing the syncs: a
      // claim of a whole interval can fall just before the registry is due, doubling the gap.
      const period = Math.max(ctx.config.models.syncIntervalSeconds / 2, ctx.config.hub.intervalSeconds, 1);
      const models = await oncePerPeriod(store, 'modelSyncRound', period, sync);
      if ('skipped' in models) return withGeo;
      return { ...withGeo, models };
    } catch (e) {
      ctx.log.warn('model sync failed', { error: (e as Error).message });
      return { ...withGeo, models: { error: (e as Error).message } };
    }
  });
}
