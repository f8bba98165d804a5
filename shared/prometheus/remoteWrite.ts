import { randomUUID } from 'node:crypto';
import { ConfigError, type Config } from '../config/config.js';
import type { CpuTimes, Logger, NetDevCounters, NodeSpec } from '../domain/index.js';
import type { Db } from '../store/db.js';
import type { StoredRound } from '../collect/round.js';
import type { CollectorRun } from '../store/readings.js';
import { ackRemoteWrite, deferRemoteWrite, enqueueRemoteWrite, leaseRemoteWrite, nextRemoteWrite, releaseRemoteWrite } from '../store/remoteWrite.js';
import type { NodeSnapshot } from '../store/snapshots.js';
import { nodeLabelPairs, nodeSamples, type SampleSink } from './nodeMetrics.js';
import { encodeLabels, encodeWriteRequestFrom, REMOTE_WRITE_HEADERS, type EncodedSeries, type Label } from './writeRequest.js';

/**
 * Prometheus remote write 1.0 to every `prometheus.remoteWrite` endpoint, fed by each
 * collection round: the round's samples (the same series GET /metrics shows, through
 * nodeSamples) are encoded, split into requests of at most `prometheus.maxSamplesPerSend`
 * samples and queued in the store inside the round's own transaction; then sent in queue
 * order, one request at a time per endpoint (so each series' samples arrive in order), retried
 * with backoff on 5xx, 429 and network errors, dropped with a log line on any other 4xx.
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
}

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
    for (const k of Object.keys(c)) if (!['url', 'name', 'basicAuth', 'bearerToken', 'headers'].includes(k)) throw new ConfigError(`${where}": unknown key "${k}" (known: url, name, basicAuth, bearerToken, headers)`);
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
    return { name, url: url.toString(), headers };
  });
  const names = out.map((e) => e.name);
  const dup = names.find((n, i) => names.indexOf(n) !== i);
  if (dup !== undefined) throw new ConfigError(`"prometheus.remoteWrite": two endpoints named "${dup}" (give one a name)`);
  return out;
}

/** Encoded label sets, by node (instance, groups, job), then name and labels: they repeat every round. */
const labelCache = new Map<string, Map<string, Uint8Array>>();
/** Bounded: past this many nodes (an inventory renaming nodes all the time) it starts afresh. */
const LABEL_CACHE_MAX_NODES = 100_000;

/** The round's series, labelled as GET /metrics labels them, plus `job`, their labels encoded. */
export function roundSeries(round: StoredRound, nodes: readonly NodeSpec[], job: string): EncodedSeries[] {
  const groups = new Map(nodes.map((n) => [n.name, n.groups]));
  const readings = new Map(round.readings.map((r) => [r.node, r]));
  const counters = new Map(round.counters.map((c) => [`${c.node}\0${c.kind}`, c]));
  const runs = new Map<string, CollectorRun[]>();
  for (const r of round.runs) runs.set(r.node, [...(runs.get(r.node) ?? []), r]);
  const series: EncodedSeries[] = [];
  let base: Label[] = [];
  let cache = new Map<string, Uint8Array>();
  if (labelCache.size > LABEL_CACHE_MAX_NODES) labelCache.clear();
  const sink: SampleSink = {
    add(f, _node, labels, value, ts, suffix) {
      const name = suffix ? f.name + suffix : f.name;
      const key = labels.length ? `${name}\0${labels.join('\0')}` : name;
      let encoded = cache.get(key);
      if (!encoded) {
        const all = [{ name: '__name__', value: name }, ...base];
        for (let i = 0; i < labels.length; i += 2) all.push({ name: labels[i]!, value: labels[i + 1]! });
        // The spec: label names sorted (`__name__` sorts first).
        all.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
        cache.set(key, (encoded = encodeLabels(all)));
      }
      series.push({ labels: encoded, value, timestamp: Math.round(ts ?? round.timeUnixSeconds * 1000) });
    },
  };
  const t = round.timeUnixSeconds * 1000;
  for (const { node, status } of round.statuses) {
    const pairs = nodeLabelPairs(node, groups.get(node) ?? []);
    base = [];
    for (let i = 0; i < pairs.length; i += 2) base.push({ name: pairs[i]!, value: pairs[i + 1]! });
    base.push({ name: 'job', value: job });
    const baseKey = `${pairs.join('\0')}\0${job}`;
    cache = labelCache.get(baseKey) ?? new Map();
    labelCache.set(baseKey, cache);
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
  }
  return series;
}

/** The round's series as requests of at most `maxSamples` samples each (one sample per series per round). */
export function remoteWriteRequests(series: readonly EncodedSeries[], maxSamples: number, nowMs: number): { createdUnixMs: number; samples: number; series: number; payload: Buffer }[] {
  const out = [];
  const size = Math.max(1, Math.floor(maxSamples));
  for (let i = 0; i < series.length; i += size) {
    const chunk = series.slice(i, i + size);
    out.push({ createdUnixMs: nowMs, samples: chunk.length, series: chunk.length, payload: encodeWriteRequestFrom(chunk) });
  }
  return out;
}

/**
 * For collectRound: encode the round (outside the transaction) and return what to run inside
 * it, or undefined when no endpoint is configured.
 */
export function remoteWriteHook(config: Config, nodes: readonly NodeSpec[], log: Logger): ((round: StoredRound) => (db: Db) => void) | undefined {
  const endpoints = remoteWriteEndpoints(config);
  if (endpoints.length === 0) return undefined;
  const p = config.prometheus;
  return (round) => {
    const requests = remoteWriteRequests(roundSeries(round, nodes, p.job), p.maxSamplesPerSend, Date.now());
    return (db) => {
      const r = enqueueRemoteWrite(db, requests, endpoints.map((e) => e.name), p.queueMaxSamples);
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
export async function flushRemoteWrite(o: { db: Db; config: Config; log: Logger; deadlineMs: number }): Promise<FlushSummary[]> {
  const endpoints = remoteWriteEndpoints(o.config);
  return Promise.all(endpoints.map((e) => flushEndpoint(o, e)));
}

async function flushEndpoint(o: { db: Db; config: Config; log: Logger; deadlineMs: number }, e: RemoteWriteEndpoint): Promise<FlushSummary> {
  const summary: FlushSummary = { endpoint: e.name, sentRequests: 0, sentSamples: 0, droppedSamples: 0, retries: 0 };
  if (busy.has(e.name)) return { ...summary, stopped: 'busy' };
  busy.add(e.name);
  const p = o.config.prometheus;
  const timeoutMs = Math.max(100, p.remoteWriteTimeoutSeconds * 1000);
  try {
    for (;;) {
      const now = Date.now();
      if (now >= o.deadlineMs) return { ...summary, stopped: 'deadline' };
      const state = o.db.prepare('SELECT attempts, retry_at_unix_ms AS retryAt FROM remote_write_endpoints WHERE endpoint = ?').get(e.name) as { attempts: number; retryAt: number } | undefined;
      if (!state) return summary; // nothing was ever queued for it
      if (state.retryAt > now) {
        if (state.retryAt >= o.deadlineMs) return { ...summary, stopped: 'backoff' };
        await new Promise((r) => setTimeout(r, state.retryAt - now));
        continue;
      }
      const req = nextRemoteWrite(o.db, e.name);
      if (!req) return summary;
      // The lease outlives one request: a process killed mid-request leaves it to expire.
      if (!leaseRemoteWrite(o.db, e.name, OWNER, now, now + timeoutMs + 2000)) return { ...summary, stopped: 'leased' };
      const outcome = await post(e, req.payload, timeoutMs);
      const after = Date.now();
      if (outcome.ok) {
        ackRemoteWrite(o.db, e.name, req.id, req.samples, { sent: true, nowMs: after });
        summary.sentRequests++;
        summary.sentSamples += req.samples;
      } else if (outcome.retry) {
        const attempts = state.attempts + 1;
        const backoff = Math.min(p.retryMaxSeconds * 1000, MIN_BACKOFF_MS * 2 ** Math.min(attempts - 1, 20));
        const wait = Math.max(backoff, outcome.retryAfterMs ?? 0);
        deferRemoteWrite(o.db, e.name, { attempts, retryAtUnixMs: after + wait, error: outcome.error, nowMs: after });
        summary.retries++;
        // Logged on the first failure and then at every power of two, not on every retry.
        if ((attempts & (attempts - 1)) === 0) o.log.warn('remote write failed, will retry', { endpoint: e.name, attempts, retryInMs: wait, error: outcome.error });
      } else {
        ackRemoteWrite(o.db, e.name, req.id, req.samples, { sent: false, nowMs: after, error: outcome.error });
        summary.droppedSamples += req.samples;
        o.log.error('remote write rejected, request dropped (not retried)', { endpoint: e.name, samples: req.samples, error: outcome.error });
      }
    }
  } finally {
    releaseRemoteWrite(o.db, e.name, OWNER);
    busy.delete(e.name);
  }
}

type PostOutcome = { ok: true } | { ok: false; retry: boolean; error: string; retryAfterMs?: number };

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
    return { ok: false, retry: true, error, retryAfterMs: seconds === undefined ? undefined : Math.min(seconds, 300) * 1000 };
  }
  return { ok: false, retry: false, error };
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
