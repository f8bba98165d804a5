import { randomUUID } from 'node:crypto';
import { ConfigError, type Config } from '../config/config.js';
import type { CpuTimes, Logger, NetDevCounters, NodeSpec } from '../domain/index.js';
import type { SqlDb } from '../store/sql.js';
import { asSql, type SqlOrDb } from '../store/sqliteSql.js';
import type { StoredRound } from '../collect/round.js';
import type { CollectorRun } from '../store/readings.js';
import {
  batchRows,
  beginRemoteWriteBatch,
  deferRemoteWrite,
  endpointRetry,
  enqueueRemoteWrite,
  leaseRemoteWrite,
  nextBatchRows,
  openRemoteWriteBatch,
  releaseRemoteWrite,
  resolveSeries,
  seriesLabels,
  setRequestState,
  type EnqueueResult,
  type QueuedRequest,
  type RemoteWriteBatch,
  type SeriesRef,
} from '../store/remoteWrite.js';
import { encodeIdRow, mergeIdRows, mergeQueueRows, roundColumnsOf, splitBatch, type RoundColumns } from './backlog.js';
import type { Family } from './exposition.js';
import type { NodeSnapshot } from '../store/snapshots.js';
import { nodeLabelPairs, nodeSamples, type SampleSink } from './nodeMetrics.js';
import { encodeLabels, encodeSeriesRequest, REMOTE_WRITE_HEADERS, snappyAvailable, type EncodedSeries, type Label, type SeriesColumns } from './writeRequest.js';

/**
 * Prometheus remote write 1.0 to every `prometheus.remoteWrite` endpoint, fed by each
 * collection round: the round's samples (the same series GET /metrics shows, through
 * nodeSamples) are queued in the store, in rows of at most `prometheus.maxSamplesPerSend`,
 * inside the round's own transaction; then sent in batches (shared/prometheus/backlog.ts): the
 * queued rows merged per series and split into requests of disjoint series, up to
 * `maxInFlight` of them in flight at once; the next batch waits for every answer of this one,
 * so each series' samples arrive in order. Retried with backoff on 5xx, 429 and network
 * errors, dropped with a log line on any other 4xx.
 *
 * A crash between the endpoint's 2xx and the acknowledgement (or a timeout, or a broken
 * connection) leaves a request in doubt, and nothing but the endpoint knows whether it took
 * it. A request with one sample per series is resent as it is: Prometheus takes a sample equal
 * to a series' newest as a no-op. A merged one cannot be: once taken, its older samples are
 * behind the series' newest, and Prometheus 2.42 refuses the whole request with a 400 (out of
 * order), taking nothing; and no subset of it can be sent instead (the newest samples alone
 * would lose the others if it was not taken; the older ones are refused if it was). So the
 * queue keeps each request's state (RequestState): the resend of an in-doubt merged request
 * answered "out of order / duplicate / out of bounds" means it was taken before (this hub is
 * the only writer of its series, and nothing later of them was sent), and it is counted as
 * sent, not dropped. Only in-doubt requests are ever resent, and each at most once per answer.
 */

/** One entry of `prometheus.remoteWrite`. Credentials are never logged nor stored. */
export interface RemoteWriteConfig {
  url: string;
  /** How the queue and the metrics name it; default the URL's origin and path. */
  name?: string;
  basicAuth?: { username: string; password: string };
  bearerToken?: string;
  headers?: Record<string, string>;
}

export interface RemoteWriteEndpoint {
  name: string;
  url: string;
  headers: Record<string, string>;
  /** Requests in flight at once (of one batch: disjoint series). */
  maxInFlight: number;
}

/** Like the shards of Prometheus' queue manager, but bounded low: a hub has 2 cores, a receiver many clients. */
export const DEFAULT_MAX_IN_FLIGHT = 4;
const MAX_IN_FLIGHT_LIMIT = 64;

/** Headers the protocol sets; an endpoint's `headers` may not replace them (as Prometheus refuses). */
const RESERVED_HEADERS = ['content-encoding', 'content-type', 'content-length', 'x-prometheus-remote-write-version', 'user-agent', 'authorization', 'host'];
const USER_AGENT = 'edgefleet/0.1.0';

/** `prometheus.remoteWrite`, checked: a ConfigError that names the entry and the key. */
export function remoteWriteEndpoints(config: Config): RemoteWriteEndpoint[] {
  const raw = (config.prometheus?.remoteWrite ?? []) as unknown;
  if (!Array.isArray(raw)) throw new ConfigError('"prometheus.remoteWrite" must be a list of {url, basicAuth | bearerToken, headers}');
  const out = raw.map((e: unknown, i) => {
    const where = `"prometheus.remoteWrite[${i}]`;
    if (e === null || typeof e !== 'object' || Array.isArray(e)) throw new ConfigError(`${where}" must be a mapping with a url`);
    const c = e as Record<string, unknown>;
    for (const k of Object.keys(c)) if (!['url', 'name', 'basicAuth', 'bearerToken', 'headers', 'maxInFlight'].includes(k)) throw new ConfigError(`${where}": unknown key "${k}" (known: url, name, basicAuth, bearerToken, headers, maxInFlight)`);
    const maxInFlight = c.maxInFlight ?? DEFAULT_MAX_IN_FLIGHT;
    if (typeof maxInFlight !== 'number' || !Number.isInteger(maxInFlight) || maxInFlight < 1 || maxInFlight > MAX_IN_FLIGHT_LIMIT) {
      throw new ConfigError(`${where}.maxInFlight" must be a whole number from 1 to ${MAX_IN_FLIGHT_LIMIT} (requests sent at once), not ${JSON.stringify(c.maxInFlight)}`);
    }
    let url: URL;
    try {
      url = new URL(String(c.url ?? ''));
    } catch {
      throw new ConfigError(`${where}.url" is not a URL: ${JSON.stringify(c.url ?? '')}`);
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new ConfigError(`${where}.url" must be http or https`);
    const headers: Record<string, string> = { ...REMOTE_WRITE_HEADERS, 'user-agent': USER_AGENT };
    if (c.basicAuth !== undefined && c.bearerToken !== undefined) throw new ConfigError(`${where}": basicAuth and bearerToken exclude each other`);
    if (c.basicAuth !== undefined) {
      const b = c.basicAuth as Record<string, unknown>;
      if (b === null || typeof b !== 'object' || typeof b.username !== 'string' || typeof b.password !== 'string') throw new ConfigError(`${where}.basicAuth" needs a username and a password`);
      headers.authorization = `Basic ${Buffer.from(`${b.username}:${b.password}`).toString('base64')}`;
    }
    if (c.bearerToken !== undefined) {
      if (typeof c.bearerToken !== 'string' || !c.bearerToken) throw new ConfigError(`${where}.bearerToken" must be a non-empty string`);
      headers.authorization = `Bearer ${c.bearerToken}`;
    }
    if (url.username || url.password) {
      if (headers.authorization) throw new ConfigError(`${where}.url" has credentials and so does the entry: keep one`);
      headers.authorization = `Basic ${Buffer.from(`${decodeURIComponent(url.username)}:${decodeURIComponent(url.password)}`).toString('base64')}`;
      url.username = url.password = '';
    }
    if (c.headers !== undefined) {
      if (c.headers === null || typeof c.headers !== 'object' || Array.isArray(c.headers)) throw new ConfigError(`${where}.headers" must be a mapping of header names to values`);
      for (const [k, v] of Object.entries(c.headers as Record<string, unknown>)) {
        if (RESERVED_HEADERS.includes(k.toLowerCase())) throw new ConfigError(`${where}.headers": "${k}" is set by edgefleet and cannot be replaced`);
        if (typeof v !== 'string') throw new ConfigError(`${where}.headers.${k}" must be a string`);
        headers[k.toLowerCase()] = v;
      }
    }
    const name = c.name === undefined ? `${url.origin}${url.pathname}` : String(c.name);
    return { name, url: url.toString(), headers, maxInFlight };
  });
  const names = out.map((e) => e.name);
  const dup = names.find((n, i) => names.indexOf(n) !== i);
  if (dup !== undefined) throw new ConfigError(`"prometheus.remoteWrite": two endpoints named "${dup}" (give one a name)`);
  return out;
}

/**
 * Each node's series as the last round made them, by node (instance, groups, job): the i-th
 * sample nodeSamples hands over is mostly the i-th series of last round, checked by family,
 * suffix and labels (no key string built per sample). A series found elsewhere (one came or went
 * before it) is looked up by its key in the node's map, built at the first miss.
 */
interface CachedSeries {
  fam: Family;
  suffix: string | undefined;
  labels: readonly string[];
  ref: SeriesRef;
}
interface NodeSeries {
  series: CachedSeries[];
  byKey?: Map<string, CachedSeries>;
}
const labelCache = new Map<string, NodeSeries>();
/** Bounded: past this many nodes (an inventory renaming nodes all the time) it starts afresh. */
const LABEL_CACHE_MAX_NODES = 100_000;

function sameLabels(a: readonly string[], b: readonly string[]): boolean {
  if (a === b) return true;
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
const seriesKey = (fam: Family, suffix: string | undefined, labels: readonly string[]) => `${fam.name}\0${suffix ?? ''}\0${labels.join('\0')}`;

/** The round's series, labelled as GET /metrics labels them, plus `job`, their labels encoded; one sample each. */
export function roundSeries(round: StoredRound, nodes: readonly NodeSpec[], job: string): RoundColumns {
  const groups = new Map(nodes.map((n) => [n.name, n.groups]));
  const readings = new Map(round.readings.map((r) => [r.node, r]));
  const counters = new Map(round.counters.map((c) => [`${c.node}\0${c.kind}`, c]));
  const runs = new Map<string, CollectorRun[]>();
  for (const r of round.runs) runs.set(r.node, [...(runs.get(r.node) ?? []), r]);
  const out: RoundColumns = { labels: [], refs: [], values: [], timestampsMs: [] };
  let base: Label[] = [];
  let cache: NodeSeries = { series: [] };
  let pos = 0;
  if (labelCache.size > LABEL_CACHE_MAX_NODES) labelCache.clear();
  const roundMs = round.timeUnixSeconds * 1000;
  const sink: SampleSink = {
    add(f, _node, labels, value, ts, suffix) {
      const i = pos++;
      let s = cache.series[i];
      if (s === undefined || s.fam !== f || s.suffix !== suffix || !sameLabels(s.labels, labels)) {
        if (!cache.byKey) cache.byKey = new Map(cache.series.map((x) => [seriesKey(x.fam, x.suffix, x.labels), x]));
        const key = seriesKey(f, suffix, labels);
        s = cache.byKey.get(key);
        if (!s) {
          const all = [{ name: '__name__', value: suffix ? f.name + suffix : f.name }, ...base];
          for (let j = 0; j < labels.length; j += 2) all.push({ name: labels[j]!, value: labels[j + 1]! });
          // The spec: label names sorted (`__name__` sorts first).
          all.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
          s = { fam: f, suffix, labels: [...labels], ref: { labels: encodeLabels(all) } };
          cache.byKey.set(key, s);
        }
        cache.series[i] = s;
      }
      out.labels.push(s.ref.labels);
      out.refs.push(s.ref);
      out.values.push(value);
      out.timestampsMs.push(Math.round(ts ?? roundMs));
    },
  };
  const t = round.timeUnixSeconds * 1000;
  for (const { node, status } of round.statuses) {
    const pairs = nodeLabelPairs(node, groups.get(node) ?? []);
    base = [];
    for (let i = 0; i < pairs.length; i += 2) base.push({ name: pairs[i]!, value: pairs[i + 1]! });
    base.push({ name: 'job', value: job });
    const baseKey = `${pairs.join('\0')}\0${job}`;
    cache = labelCache.get(baseKey) ?? { series: [] };
    labelCache.set(baseKey, cache);
    pos = 0;
    const r = readings.get(node);
    const cpu = counters.get(`${node}\0cpu`);
    const net = counters.get(`${node}\0network`);
    const cpuSample = cpu?.sample as { cpus: CpuTimes[]; bootTimeUnixSeconds?: number } | undefined;
    const nodeRuns = runs.get(node) ?? [];
    const snap: NodeSnapshot = {
      instance: node,
      groups: groups.get(node) ?? [],
      status,
      lastSeenUnixSeconds: status === 'unreachable' ? null : round.timeUnixSeconds,
      temperature: r?.temperature ? { timeMs: t, readings: r.temperature } : undefined,
      cpu: cpu && cpuSample ? { timeMs: cpu.timeMs, cpus: cpuSample.cpus, bootTimeUnixSeconds: cpuSample.bootTimeUnixSeconds } : undefined,
      load: r?.load ? { timeMs: t, ...r.load } : undefined,
      memory: r?.memory ? { timeMs: t, sample: r.memory } : undefined,
      storage: r?.storage ? { timeMs: t, mounts: r.storage } : undefined,
      network: net ? { timeMs: net.timeMs, interfaces: (net.sample as { interfaces: NetDevCounters[] }).interfaces } : undefined,
      links: r?.network?.links?.size ? { timeMs: t, links: [...r.network.links.values()] } : undefined,
      diskio: r?.diskio ? { timeMs: t, devices: r.diskio.counters } : undefined,
      inodes: r?.inodes ? { timeMs: t, mounts: r.inodes } : undefined,
      pressure: r?.pressure ? { timeMs: t, totals: Object.fromEntries(r.pressure.map((p) => [p.resource, { some: p.some.totalSeconds, ...(p.full ? { full: p.full.totalSeconds } : {}) }])) } : undefined,
      nvidia: r?.nvidia ? { timeMs: t, gpus: r.nvidia } : undefined,
      tegraGpu: r?.tegraGpu?.length ? { timeMs: t, gpus: r.tegraGpu } : undefined,
      power: r?.power ? { timeMs: t, sample: r.power } : undefined,
      clocks: r?.clocks ? { timeMs: t, sample: r.clocks } : undefined,
      runs: nodeRuns.length ? { timeMs: t, kinds: nodeRuns.map((x) => ({ kind: x.kind, success: x.success, durationMs: x.durationMs })) } : undefined,
    };
    nodeSamples(sink, snap, { pairs, rendered: '' }, t);
    // Series the node no longer has leave the cache; the map is rebuilt at the next miss.
    if (cache.series.length > pos) {
      cache.series.length = pos;
      cache.byKey = undefined;
    }
  }
  return out;
}

/** The round's series as queue rows (format 3) of at most `maxSamples` samples each (one sample per series per round), the series by `ids`. */
export function remoteWriteRequests(c: RoundColumns, ids: Uint32Array, maxSamples: number, nowMs: number): { createdUnixMs: number; samples: number; series: number; payload: Buffer }[] {
  const out = [];
  const size = Math.max(1, Math.floor(maxSamples));
  for (let i = 0; i < c.values.length; i += size) {
    const n = Math.min(size, c.values.length - i);
    out.push({ createdUnixMs: nowMs, samples: n, series: n, payload: encodeIdRow(c, ids, i, i + n) });
  }
  return out;
}

/**
 * Queue one round's series (their ids found or added first, in their own transaction) in one
 * transaction: for tests, the bench, and anything that queues outside a collection round.
 */
export async function queueRound(db: SqlOrDb, round: RoundColumns | readonly EncodedSeries[], o: { endpoints: readonly string[]; maxSamplesPerSend: number; queueMaxSamples: number; nowMs?: number }): Promise<EnqueueResult> {
  const c = 'refs' in round ? round : roundColumnsOf(round);
  const ids = await resolveSeries(db, c.refs);
  return enqueueRemoteWrite(db, remoteWriteRequests(c, ids, o.maxSamplesPerSend, o.nowMs ?? Date.now()), o.endpoints, o.queueMaxSamples);
}

/**
 * For collectRound: build the round's series and find their ids (outside the round's
 * transaction, in one of their own: a series row is harmless if the round then fails, and an id
 * is remembered only once committed), and return what to run inside the round's transaction:
 * queue the rows. Undefined when no endpoint is configured.
 */
export function remoteWriteHook(config: Config, nodes: readonly NodeSpec[], log: Logger, store: SqlDb): ((round: StoredRound) => Promise<(sql: SqlDb) => Promise<void>>) | undefined {
  const endpoints = remoteWriteEndpoints(config);
  if (endpoints.length === 0) return undefined;
  const p = config.prometheus;
  return async (round) => {
    const series = roundSeries(round, nodes, p.job);
    // A locked store: the ids are found again inside the round's transaction (and not remembered).
    await resolveSeries(store, series.refs).catch((e) => log.debug('remote write: series ids not found before the round', { error: (e as Error).message }));
    return async (sql) => {
      const ids = await resolveSeries(sql, series.refs, { cache: false });
      const r = await enqueueRemoteWrite(sql, remoteWriteRequests(series, ids, p.maxSamplesPerSend, Date.now()), endpoints.map((e) => e.name), p.queueMaxSamples);
      if (r.droppedSamples > 0) {
        log.warn('remote write queue full: dropped the oldest samples', {
          droppedSamples: r.droppedSamples,
          droppedRequests: r.droppedRequests,
          endpoints: r.droppedFor,
          queueMaxSamples: p.queueMaxSamples,
          hint: 'an endpoint has been failing for a while (see edgefleet_remote_write_* in GET /metrics); raise prometheus.queueMaxSamples to hold more',
        });
      }
    };
  };
}

/** This process's lease owner id; `busy` keeps two flushes of one process off the same endpoint. */
const OWNER = randomUUID();
const busy = new Set<string>();
const MIN_BACKOFF_MS = 250;
/**
 * Samples in one batch at most: what a merged backlog holds in memory (about 40 bytes a
 * sample plus each series' labels once). 8 rounds of 1,000 nodes fit.
 */
const BATCH_MAX_SAMPLES = 1_000_000;
/** A 4xx that says the endpoint has these samples, or newer: Prometheus' and Mimir's words. */
const ALREADY_THERE = /out of order|out-of-order|duplicate sample|out of bounds|too old/i;

export interface FlushSummary {
  endpoint: string;
  sentRequests: number;
  sentSamples: number;
  droppedSamples: number;
  retries: number;
  /** Why it stopped with requests left: `backoff`, `deadline`, `leased` (another process sends). */
  stopped?: string;
}

/**
 * Send what is queued, oldest first, until the queue is empty or `deadlineMs`. Each endpoint
 * on its own; its retry time is in the store, so the next flush (the next round, or a
 * restarted hub) keeps to the backoff.
 */
export async function flushRemoteWrite(o: { db: SqlOrDb; config: Config; log: Logger; deadlineMs: number; owner?: string }): Promise<FlushSummary[]> {
  const endpoints = remoteWriteEndpoints(o.config);
  if (endpoints.length && !snappyAvailable()) {
    // Queued, not sent from here: a hub on the same store sends it (docs/aws.md).
    o.log.debug('remote write: not sent from this build (no snappy module); a hub on the same store sends the queue');
    return endpoints.map((e) => ({ endpoint: e.name, sentRequests: 0, sentSamples: 0, droppedSamples: 0, retries: 0, stopped: 'no snappy' }));
  }
  const ctx = { ...o, db: asSql(o.db), owner: o.owner ?? OWNER };
  return Promise.all(endpoints.map((e) => flushEndpoint(ctx, e)));
}

interface LoadedBatch {
  batch: RemoteWriteBatch;
  /** Request i's body, encoded when it is sent. */
  body: (i: number) => Buffer;
  merged: boolean[];
}

/**
 * The merged batch last built per database and endpoint, kept while it is open: a retry, or the
 * next round's flush during an outage, does not merge it again. Bounded: one batch per endpoint.
 */
const builtByDb = new WeakMap<SqlDb, Map<string, LoadedBatch>>();
function builtFor(db: SqlDb): Map<string, LoadedBatch> {
  let m = builtByDb.get(db);
  if (!m) builtByDb.set(db, (m = new Map()));
  return m;
}

/**
 * The endpoint's open batch, rebuilt from its rows, or the next one opened; undefined when
 * nothing is queued, `lost` when another hub took the endpoint's lease meanwhile.
 */
async function loadBatch(db: SqlDb, endpoint: string, owner: string, perSend: number, log: Logger): Promise<LoadedBatch | 'lost' | undefined> {
  const built = builtFor(db);
  const open = await openRemoteWriteBatch(db, endpoint);
  const cached = built.get(endpoint);
  if (open && cached && cached.batch.first === open.first && cached.batch.last === open.last && cached.batch.perSend === open.perSend) {
    cached.batch.states = open.states;
    return cached;
  }
  built.delete(endpoint);
  const rows = open ? await batchRows(db, open.first, open.last) : await nextBatchRows(db, endpoint, { maxSamples: Math.max(BATCH_MAX_SAMPLES, perSend), maxRows: perSend });
  if (rows.length === 0) return undefined;
  const split = await buildBatch(db, rows, open?.perSend ?? perSend);
  const batch: RemoteWriteBatch = open ?? { first: rows[0]!.id, last: rows.at(-1)!.id, perSend, samples: split.samples, states: split.samples.map(() => 'q') };
  if (open && (open.samples.length !== split.samples.length || open.samples.some((n, i) => n !== split.samples[i]))) {
    throw new Error(`remote write: the open batch of rows ${open.first}-${open.last} for ${endpoint} no longer splits as it did (${open.samples.length} requests before, ${split.samples.length} now)`);
  }
  if (!open) {
    if (!(await beginRemoteWriteBatch(db, endpoint, owner, batch, split.duplicates))) return 'lost';
    if (split.duplicates) log.warn('remote write: samples at a time their series already has were left out', { endpoint, samples: split.duplicates });
    if (batch.samples.length === 0) return loadBatch(db, endpoint, owner, perSend, log);
  }
  const loaded = { batch, body: split.body, merged: split.merged };
  built.set(endpoint, loaded);
  return loaded;
}

/**
 * A format-1 row is its own batch, sent as queued; format-3 rows are merged by series id, their
 * labels read once per batch (this process's memory, else remote_write_series); format-2 rows
 * (labels in the row) are merged by their labels' bytes.
 */
async function buildBatch(db: SqlDb, rows: readonly QueuedRequest[], perSend: number): Promise<{ samples: number[]; merged: boolean[]; duplicates: number; body: (i: number) => Buffer }> {
  if (rows[0]!.format === 1) return { samples: [rows[0]!.samples], merged: [false], duplicates: 0, body: () => rows[0]!.payload };
  let m: SeriesColumns & { duplicates: number };
  if (rows[0]!.format === 3) {
    const byId = mergeIdRows(rows);
    m = { ...byId, labels: await seriesLabels(db, byId.ids) };
  } else m = mergeQueueRows(rows);
  const requests = splitBatch(m, perSend);
  return {
    samples: requests.map((r) => r.samples),
    merged: requests.map((r) => r.merged),
    duplicates: m.duplicates,
    body: (i) => encodeSeriesRequest(m, requests[i]!.from, requests[i]!.to),
  };
}

interface FlushContext {
  db: SqlDb;
  /** The lease owner: this process (OWNER), or a test's stand-in for another hub. */
  owner: string;
  config: Config;
  log: Logger;
  deadlineMs: number;
}

async function flushEndpoint(o: FlushContext, e: RemoteWriteEndpoint): Promise<FlushSummary> {
  const summary: FlushSummary = { endpoint: e.name, sentRequests: 0, sentSamples: 0, droppedSamples: 0, retries: 0 };
  const key = `${o.owner}\0${e.name}`;
  if (busy.has(key)) return { ...summary, stopped: 'busy' };
  busy.add(key);
  const p = o.config.prometheus;
  const timeoutMs = Math.max(100, p.remoteWriteTimeoutSeconds * 1000);
  try {
    for (;;) {
      const now = Date.now();
      if (now >= o.deadlineMs) return { ...summary, stopped: 'deadline' };
      const state = await endpointRetry(o.db, e.name);
      if (!state) return summary; // nothing was ever queued for it
      if (state.retryAt > now) {
        if (state.retryAt >= o.deadlineMs) return { ...summary, stopped: 'backoff' };
        await new Promise((r) => setTimeout(r, state.retryAt - now));
        continue;
      }
      // The lease outlives one request: a process killed mid-request leaves it to expire.
      if (!(await leaseRemoteWrite(o.db, e.name, o.owner, now, now + timeoutMs + 2000))) return { ...summary, stopped: 'leased' };
      const loaded = await loadBatch(o.db, e.name, o.owner, p.maxSamplesPerSend, o.log);
      if (!loaded) return summary;
      if (loaded === 'lost') return { ...summary, stopped: 'leased' };
      const stopped = await sendBatch(o, e, loaded, summary, state.attempts, timeoutMs);
      if (stopped === 'deadline' || stopped === 'leased') return { ...summary, stopped };
      if (stopped === undefined) builtFor(o.db).delete(e.name); // answered: the next batch
    }
  } finally {
    await releaseRemoteWrite(o.db, e.name, o.owner).catch((err) => o.log.warn('remote write: lease not released (it expires)', { endpoint: e.name, error: (err as Error).message }));
    busy.delete(key);
  }
}

/**
 * The batch's unanswered requests, up to `e.maxInFlight` at once. Stops starting new ones at
 * the first failure worth retrying (the backoff then holds the endpoint), at the deadline, or
 * when the lease is lost; those in flight are waited for. Undefined when every request has
 * its answer.
 */
async function sendBatch(o: FlushContext, e: RemoteWriteEndpoint, loaded: LoadedBatch, summary: FlushSummary, attempts0: number, timeoutMs: number): Promise<string | undefined> {
  const { batch } = loaded;
  const p = o.config.prometheus;
  let next = 0;
  let stop: string | undefined;
  let deferred = false;
  const worker = async () => {
    for (;;) {
      while (next < batch.states.length && (batch.states[next] === 'a' || batch.states[next] === 'd')) next++;
      if (stop || next >= batch.states.length) return;
      const i = next++;
      const now = Date.now();
      if (now >= o.deadlineMs) return void (stop ??= 'deadline');
      if (!(await leaseRemoteWrite(o.db, e.name, o.owner, now, now + timeoutMs + 2000))) return void (stop ??= 'leased');
      const inDoubt = batch.states[i] === 's';
      if (!inDoubt && !(await setRequestState(o.db, e.name, o.owner, batch, i, { state: 's', nowMs: now }))) return void (stop ??= 'gone');
      const samples = batch.samples[i]!;
      const outcome = await post(e, loaded.body(i), timeoutMs);
      const after = Date.now();
      if (outcome.ok) {
        if (await setRequestState(o.db, e.name, o.owner, batch, i, { state: 'a', nowMs: after })) {
          summary.sentRequests++;
          summary.sentSamples += samples;
        }
      } else if (outcome.retry) {
        // A status says nothing was taken now; no answer leaves it in doubt, and so does an earlier one.
        await setRequestState(o.db, e.name, o.owner, batch, i, { state: inDoubt || outcome.status === undefined ? 's' : 'q', nowMs: after });
        summary.retries++;
        stop ??= 'retry';
        if (deferred) continue;
        deferred = true;
        const attempts = attempts0 + 1;
        const backoff = Math.min(p.retryMaxSeconds * 1000, MIN_BACKOFF_MS * 2 ** Math.min(attempts - 1, 20));
        const wait = Math.max(backoff, outcome.retryAfterMs ?? 0);
        await deferRemoteWrite(o.db, e.name, { attempts, retryAtUnixMs: after + wait, error: outcome.error, nowMs: after });
        // Logged on the first failure and then at every power of two, not on every retry.
        if ((attempts & (attempts - 1)) === 0) o.log.warn('remote write failed, will retry', { endpoint: e.name, attempts, retryInMs: wait, error: outcome.error });
      } else if (inDoubt && loaded.merged[i] && outcome.status === 400 && ALREADY_THERE.test(outcome.error)) {
        // Sent before without an answer, and now refused as behind what the endpoint holds: it was taken then.
        if (await setRequestState(o.db, e.name, o.owner, batch, i, { state: 'a', nowMs: after })) {
          summary.sentRequests++;
          summary.sentSamples += samples;
        }
        o.log.info('remote write: a request sent before without an answer was taken then (the endpoint refuses it as already there)', { endpoint: e.name, samples, error: outcome.error });
      } else {
        if (await setRequestState(o.db, e.name, o.owner, batch, i, { state: 'd', nowMs: after, error: outcome.error })) summary.droppedSamples += samples;
        o.log.error('remote write rejected, request dropped (not retried)', { endpoint: e.name, samples, error: outcome.error });
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(e.maxInFlight, batch.states.length) }, worker));
  return stop;
}

/** `status`: the endpoint's answer, absent when none came (network error, timeout). */
type PostOutcome = { ok: true } | { ok: false; retry: boolean; error: string; status?: number; retryAfterMs?: number };

/** One POST, aborted at `timeoutMs`; the response body read up to 1 KiB (for the log). */
async function post(e: RemoteWriteEndpoint, body: Buffer, timeoutMs: number): Promise<PostOutcome> {
  let res: Response;
  const signal = AbortSignal.timeout(timeoutMs);
  try {
    res = await fetch(e.url, { method: 'POST', headers: e.headers, body: new Blob([new Uint8Array(body)]), signal });
  } catch (err) {
    const cause = (err as { cause?: { code?: string; message?: string } }).cause;
    return { ok: false, retry: true, error: signal.aborted ? `no answer within ${timeoutMs} ms` : `${(err as Error).message}${cause?.code ? ` (${cause.code})` : ''}` };
  }
  const text = await readBounded(res, 1024, signal).catch(() => '');
  if (res.status >= 200 && res.status < 300) return { ok: true };
  const error = `HTTP ${res.status}${text ? `: ${text.trim()}` : ''}`;
  if (res.status === 429 || res.status >= 500) {
    const ra = res.headers.get('retry-after');
    const seconds = ra !== null && /^\d+$/.test(ra.trim()) ? Number(ra) : undefined;
    return { ok: false, retry: true, error, status: res.status, retryAfterMs: seconds === undefined ? undefined : Math.min(seconds, 300) * 1000 };
  }
  return { ok: false, retry: false, error, status: res.status };
}

async function readBounded(res: Response, maxBytes: number, signal: AbortSignal): Promise<string> {
  if (!res.body) return '';
  const reader = res.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  try {
    while (size < maxBytes && !signal.aborted) {
      const { done, value } = await reader.read();
      if (done) break;
      chunks.push(value);
      size += value.length;
    }
  } finally {
    await reader.cancel().catch(() => undefined);
  }
  return Buffer.concat(chunks).subarray(0, maxBytes).toString('utf8');
}
