import type { Config } from '../config/config.js';
import type { GeoPrecision, LocationSource, Logger, NodeSpec } from '../domain/index.js';
import { createGeocoderClient, fallbackQueries, GeocodeError, geocoderSettings, locationInput, type GeocoderClient, type GeocoderSettings, type GeoMatch } from '../geo/index.js';
import type { Db } from '../store/db.js';
import type { SqlDb } from '../store/sql.js';
import type { Store } from '../store/store.js';
import {
  geocoderServerState,
  geocoderSlots,
  getGeocodeEntry,
  nodeLocations,
  recordGeocoderAnswer,
  recordGeocoderOutage,
  saveGeocodeFailure,
  saveGeocodeResult,
  updateNodeLocation,
  type GeocodeEntry,
  type NodeLocation,
} from '../store/geocode.js';

/** One node's location after a run. */
export interface NodeLocationResult {
  node: string;
  address: string | null;
  source: LocationSource | null;
  latitude: number | null;
  longitude: number | null;
  precision: GeoPrecision | null;
  /** The place the server matched ("테헤란로, 역삼동, 강남구, 서울특별시, 06236, 대한민국"). */
  displayName: string | null;
  error: string | null;
}

export interface GeolocateSummary {
  nodes: number;
  /** Nodes with a location (inventory, geocoded or cached, or a last known one while pending). */
  located: number;
  bySource: Record<LocationSource | 'none', number>;
  /** Addresses looked up over the network this run, and the HTTP requests that took. */
  lookups: number;
  requests: number;
  /** Addresses due for a lookup left to a later run (the per-run limit, or the server is backing off). */
  deferred: number;
  durationMs: number;
  perNode: NodeLocationResult[];
}

export interface AddressProgress {
  address: string;
  status: 'ok' | 'pending' | 'failed';
  precision?: GeoPrecision;
  error?: string;
}

export interface GeolocateOptions {
  /** The store's SQL port (`store.sql`, either database), or a SQLite database. */
  db: Db | SqlDb;
  /** The inventory's nodes (already synced into the nodes table). */
  nodes: readonly NodeSpec[];
  config: Pick<Config, 'geocoder'> & { store?: Pick<Config['store'], 'keepVars'> };
  log: Logger;
  /** Look every address up again, ignoring the cache, retry times and the server's backoff. */
  refresh?: boolean;
  /**
   * Addresses looked up over the network at most this run (default: every one due). 0: no
   * network — inventory coordinates and cached locations only, the rest marked pending.
   */
  maxLookups?: number;
  /** The clock, unix seconds (tests move it forward to reach a retry time). */
  nowUnixSeconds?: () => number;
  /** Epoch ms after which no lookup starts (what is left is deferred to a later run). */
  deadlineMs?: number;
  /** A client made elsewhere (otherwise one is made from config.geocoder on the first lookup). */
  client?: GeocoderClient;
  onAddress?: (p: AddressProgress, done: number, total: number) => void;
}

type LookupOutcome =
  | { ok: true; match: GeoMatch; query: string; precision: GeoPrecision }
  | { ok: false; status: 'pending' | 'failed'; error: string; serverDown: boolean };

/**
 * Put every node on the map. Inventory `latitude`/`longitude` win and cost nothing; an `address`
 * is looked up once (by its normalized text) through the fallback chain and cached; a failed
 * lookup keeps the node's last known location, records the reason and is retried with backoff.
 * Never throws for a geocoding failure (only if the database itself fails).
 */
export async function geolocate(o: GeolocateOptions): Promise<GeolocateSummary> {
  const t0 = performance.now();
  const now = o.nowUnixSeconds ?? (() => Math.floor(Date.now() / 1000));
  const cfg = o.config.geocoder;
  const backoff = (attempts: number) => Math.min(cfg.retryMaxSeconds, cfg.retryBaseSeconds * 2 ** Math.min(30, Math.max(0, attempts - 1)));
  const current = await nodeLocations(o.db);
  const perNode = new Map<string, NodeLocationResult>();
  /** Normalized address key → the address as written (normalized) and its nodes. */
  const groups = new Map<string, { address: string; nodes: string[]; problems: Map<string, string> }>();

  for (const spec of o.nodes) {
    const cur = current.get(spec.name);
    if (!cur) continue;
    const input = locationInput(spec.vars);
    if (input.kind === 'coordinates') {
      await write(cur, { address: input.address ?? null, latitude: input.latitude, longitude: input.longitude, source: 'inventory', precision: null, error: null, displayName: null });
    } else if (input.kind === 'none') {
      // A location this code set goes with the vars that gave it; one set by hand stays.
      if (cur.source !== null || cur.address !== null || cur.error !== (input.problem ?? null)) {
        const ours = cur.source !== null;
        await write(cur, { address: null, latitude: ours ? null : undefined, longitude: ours ? null : undefined, source: null, precision: null, error: input.problem ?? null, displayName: null });
      } else perNode.set(spec.name, result(cur, null));
      if (input.problem) o.log.warn('node location vars ignored', { node: spec.name, problem: input.problem });
    } else {
      if (input.problem) o.log.warn('node location vars ignored', { node: spec.name, problem: input.problem });
      const g = groups.get(input.key) ?? { address: input.address, nodes: [], problems: new Map<string, string>() };
      g.nodes.push(spec.name);
      if (input.problem) g.problems.set(spec.name, input.problem);
      groups.set(input.key, g);
    }
  }

  // What can be answered without the network; the rest is due for a lookup.
  const due: { key: string; address: string; nodes: string[]; problems: Map<string, string>; entry?: GeocodeEntry }[] = [];
  for (const [key, g] of groups) {
    const entry = await getGeocodeEntry(o.db, key);
    const isDue = o.refresh || !entry || (entry.status !== 'ok' && (entry.nextRetryUnixSeconds ?? 0) <= now());
    if (isDue) due.push({ key, ...g, entry });
    else await apply(g, entry, 'cached');
  }
  // Never looked up first, then the longest waiting.
  due.sort((a, b) => (a.entry ? 1 : 0) - (b.entry ? 1 : 0) || (a.entry?.nextRetryUnixSeconds ?? 0) - (b.entry?.nextRetryUnixSeconds ?? 0));

  let client = o.client;
  let settings: GeocoderSettings | undefined = client?.settings;
  let lookups = 0;
  let deferred = 0;
  let stopReason: string | undefined;
  const limit = o.maxLookups ?? Infinity;
  const requestsBefore = client?.requests ?? 0;
  for (const [i, item] of due.entries()) {
    if (lookups >= limit || stopReason || (o.deadlineMs !== undefined && Date.now() >= o.deadlineMs)) {
      deferred++;
      await apply(item, item.entry, 'cached');
      continue;
    }
    if (!client) {
      settings = geocoderSettings(cfg);
      for (const a of settings.adjusted) o.log.warn('geocoder setting adjusted', { change: a });
      if (!o.refresh) {
        const server = await geocoderServerState(o.db, settings.server);
        if (server.retryAfterUnixSeconds !== null && server.retryAfterUnixSeconds > now()) {
          stopReason = `geocoder ${settings.displayUrl} unavailable (${server.lastError ?? 'no answer'}); next try after ${new Date(server.retryAfterUnixSeconds * 1000).toISOString()}`;
          o.log.info('geocoder backing off', { server: settings.displayUrl, retryAfterUnixSeconds: server.retryAfterUnixSeconds, deferred: due.length - i });
          deferred++;
          await apply(item, item.entry, 'cached');
          continue;
        }
      }
      client = createGeocoderClient(settings, { slots: geocoderSlots(o.db) });
    }
    // Another run (the hub's collectAll beside the daily handler) may have just done this one.
    const fresh = await getGeocodeEntry(o.db, item.key);
    if (!o.refresh && fresh && fresh.status === 'ok') {
      await apply(item, fresh, 'cached');
      continue;
    }
    lookups++;
    const outcome = await lookup(client, item.address);
    const t = now();
    const server = client.settings.server;
    if (outcome.ok) {
      await recordGeocoderAnswer(o.db, server);
      await saveGeocodeResult(o.db, {
        address: item.key,
        query: outcome.query,
        latitude: outcome.match.latitude,
        longitude: outcome.match.longitude,
        displayName: outcome.match.displayName,
        precision: outcome.precision,
        provider: client.provider,
        server,
        nowUnixSeconds: t,
      });
      o.log.info('geocoded', { address: item.address, precision: outcome.precision, query: outcome.query });
    } else {
      const attempts = (fresh?.attempts ?? 0) + 1;
      await saveGeocodeFailure(o.db, { address: item.key, status: outcome.status, error: outcome.error, attempts, nextRetryUnixSeconds: t + backoff(attempts), server, nowUnixSeconds: t });
      if (outcome.serverDown) {
        const failures = (await geocoderServerState(o.db, server)).failures + 1;
        await recordGeocoderOutage(o.db, server, failures, t + backoff(failures), outcome.error);
        // The server is down: the other addresses wait for its backoff rather than each costing a timeout.
        stopReason = outcome.error;
      } else await recordGeocoderAnswer(o.db, server);
      o.log.warn('geocoding failed', { address: item.address, status: outcome.status, error: outcome.error, attempts, retryInSeconds: backoff(attempts) });
    }
    const entry = await getGeocodeEntry(o.db, item.key);
    await apply(item, entry, outcome.ok ? 'geocoded' : 'cached');
    o.onAddress?.(
      outcome.ok ? { address: item.address, status: 'ok', precision: outcome.precision } : { address: item.address, status: outcome.status, error: outcome.error },
      lookups,
      Math.min(due.length, limit),
    );
  }

  const results = o.nodes.flatMap((n) => perNode.get(n.name) ?? []);
  const bySource: GeolocateSummary['bySource'] = { inventory: 0, geocoded: 0, cached: 0, pending: 0, failed: 0, none: 0 };
  for (const r of results) bySource[r.source ?? 'none']++;
  return {
    nodes: results.length,
    located: results.filter((r) => r.latitude !== null && r.longitude !== null).length,
    bySource,
    lookups,
    requests: (client?.requests ?? 0) - requestsBefore,
    deferred,
    durationMs: Math.round(performance.now() - t0),
    perNode: results,
  };

  /** Nodes of one address take what the cache entry says (no entry: not looked up yet). */
  async function apply(g: { address: string; nodes: string[]; problems: Map<string, string> }, entry: GeocodeEntry | undefined, how: 'geocoded' | 'cached') {
    for (const name of g.nodes) {
      const cur = current.get(name)!;
      const problem = g.problems.get(name);
      if (entry?.status === 'ok' && entry.latitude !== null && entry.longitude !== null) {
        const same = cur.latitude === entry.latitude && cur.longitude === entry.longitude && cur.precision === entry.precision && cur.address === g.address && (cur.source === 'geocoded' || cur.source === 'cached');
        const source = how === 'cached' && same ? cur.source! : how;
        await write(cur, { address: g.address, latitude: entry.latitude, longitude: entry.longitude, source, precision: entry.precision, error: problem ?? null, displayName: entry.displayName }, how === 'cached' && same);
      } else {
        const status = entry && entry.status !== 'ok' ? entry.status : 'pending';
        const error = [entry && entry.status !== 'ok' ? entry.error : null, problem].filter(Boolean).join('; ') || null;
        // The last known location stays: this address's earlier one, else the node's own.
        const keep = entry && entry.latitude !== null && entry.longitude !== null ? { latitude: entry.latitude, longitude: entry.longitude, precision: entry.precision } : {};
        await write(cur, { address: g.address, source: status, error, displayName: entry?.displayName ?? null, ...keep });
      }
    }
  }

  /** Update the node's row when something changed; remember the result. */
  async function write(
    cur: NodeLocation,
    u: { address: string | null; latitude?: number | null; longitude?: number | null; source: LocationSource | null; precision?: GeoPrecision | null; error: string | null; displayName: string | null },
    unchanged = false,
  ) {
    const next: NodeLocation = {
      ...cur,
      address: u.address,
      source: u.source,
      error: u.error,
      ...(u.latitude !== undefined && u.longitude !== undefined ? { latitude: u.latitude, longitude: u.longitude, precision: u.precision ?? null } : {}),
    };
    const changed =
      !unchanged &&
      (next.address !== cur.address || next.source !== cur.source || next.error !== cur.error || next.latitude !== cur.latitude || next.longitude !== cur.longitude || next.precision !== cur.precision || u.source === 'geocoded');
    if (changed) {
      const t = now();
      await updateNodeLocation(o.db, { name: cur.name, ...u, nowUnixSeconds: t });
      if (u.latitude !== undefined) next.unixSeconds = t;
      current.set(cur.name, next);
    }
    perNode.set(cur.name, { ...result(next, u.displayName) });
  }
}

function result(l: NodeLocation, displayName: string | null): NodeLocationResult {
  return { node: l.name, address: l.address, source: l.source, latitude: l.latitude, longitude: l.longitude, precision: l.precision, displayName, error: l.error };
}

/** Try the fallback chain until a query matches; stop at the first error (the next run starts over). */
async function lookup(client: GeocoderClient, address: string): Promise<LookupOutcome> {
  const steps = fallbackQueries(address);
  try {
    for (const step of steps) {
      const match = await client.search(step.query);
      if (match) return { ok: true, match, query: step.query, precision: step.precision };
    }
  } catch (e) {
    if (e instanceof GeocodeError) return { ok: false, status: e.kind === 'unavailable' ? 'pending' : 'failed', error: e.message, serverDown: e.kind === 'unavailable' };
    return { ok: false, status: 'failed', error: (e as Error).message ?? String(e), serverDown: false };
  }
  return { ok: false, status: 'failed', error: `no match for any of ${steps.length} ${steps.length === 1 ? 'query' : 'queries'} (last: "${steps.at(-1)?.query ?? ''}")`, serverDown: false };
}

/**
 * Sync the nodes table to the inventory's nodes, then geolocate them (the geolocate handler and
 * `edgefleet geolocate`). `deadlineMs`: no lookup starts after it (a Lambda's remaining time).
 */
export async function runGeolocation(o: Omit<GeolocateOptions, 'db'> & { store: Store }): Promise<GeolocateSummary> {
  await o.store.syncNodes(o.nodes, Math.floor(Date.now() / 1000), { keepVars: o.config.store?.keepVars });
  return geolocate({ ...o, db: o.store.sql });
}
