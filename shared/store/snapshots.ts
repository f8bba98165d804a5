import type { ClocksSample, CpuTimes, DiskStats, InodesSample, MemorySample, NetDevCounters, NetLink, NodeStatus, NvidiaGpu, PowerSample, StorageSample, TegraGpuReading, TemperatureReading } from '../domain/index.js';
import type { Db } from './db.js';

/**
 * Each node's newest stored sample of every kind, raw, with the time it was taken: what
 * GET /metrics exposes (shared/prometheus/). Counters (CPU ticks as seconds, interface
 * counters) come from counter_state, which keeps them raw with the hub's receive time in ms;
 * gauges from their tables, at the round's `time`.
 */
export interface NodeSnapshot {
  instance: string;
  groups: string[];
  status: NodeStatus;
  lastSeenUnixSeconds: number | null;
  temperature?: { timeMs: number; readings: TemperatureReading[] };
  cpu?: { timeMs: number; cpus: CpuTimes[]; bootTimeUnixSeconds?: number };
  load?: { timeMs: number; load1: number; load5: number; load15: number };
  memory?: { timeMs: number; sample: MemorySample };
  storage?: { timeMs: number; mounts: StorageSample[] };
  network?: { timeMs: number; interfaces: NetDevCounters[] };
  /** Link state of the newest network round (its table), by interface. */
  links?: { timeMs: number; links: NetLink[] };
  /** Raw /proc/diskstats counters (counter_state). */
  diskio?: { timeMs: number; devices: DiskStats[] };
  inodes?: { timeMs: number; mounts: InodesSample[] };
  /** Stalled seconds since boot per resource (counter_state). */
  pressure?: { timeMs: number; totals: Partial<Record<'cpu' | 'memory' | 'io', { some: number; full?: number }>> };
  nvidia?: { timeMs: number; gpus: NvidiaGpu[] };
  tegraGpu?: { timeMs: number; gpus: TegraGpuReading[] };
  power?: { timeMs: number; sample: PowerSample };
  clocks?: { timeMs: number; sample: ClocksSample };
  /** The collector runs of the node's newest round. */
  runs?: { timeMs: number; kinds: { kind: string; success: boolean; durationMs: number }[] };
}

/**
 * The collector runs of each node's newest round: two rounds in one second both keep theirs
 * (keyed by round), the later one's. The round is found once per node (a row value), not once
 * per run row.
 */
const LATEST_RUNS = `SELECT t.node_id, t.time, t.kind, t.success, t.duration_ms FROM nodes n
  CROSS JOIN collector_runs t ON t.node_id = n.id AND (t.time, t.round_id) = (SELECT time, round_id FROM collector_runs WHERE node_id = n.id ORDER BY time DESC, round_id DESC LIMIT 1)
  WHERE n.removed_unix_seconds IS NULL`;

/** The newest rows of `table` per node: one seek per node on its (node_id, time, …) key. */
/** (CROSS JOIN keeps SQLite from scanning the metric table and probing nodes instead.) */
const LATEST = (table: string, columns: string, join = '') =>
  `WITH m AS MATERIALIZED (SELECT n.id, (SELECT MAX(time) FROM ${table} WHERE node_id = n.id) AS time FROM nodes n WHERE n.removed_unix_seconds IS NULL)
   SELECT t.node_id AS id, t.time AS time, ${columns} FROM m CROSS JOIN ${table} t ON t.node_id = m.id AND t.time = m.time ${join}`;

export function nodeSnapshots(db: Db): NodeSnapshot[] {
  const byId = new Map<number, NodeSnapshot>();
  const nodes = db.prepare('SELECT id, name, groups_json, status, last_seen_unix_seconds FROM nodes WHERE removed_unix_seconds IS NULL ORDER BY name').raw(true).all() as [number, string, string, NodeStatus, number | null][];
  for (const [id, name, groups, status, lastSeen] of nodes) byId.set(id, { instance: name, groups: JSON.parse(groups) as string[], status, lastSeenUnixSeconds: lastSeen });
  const rows = (sql: string) => db.prepare(sql).raw(true).all() as unknown[][];

  for (const [id, time, sensor, type, source, celsius] of rows(
    LATEST('temperature', 't.sensor, s.type, s.source, t.celsius', 'JOIN temperature_sensors s ON s.node_id = t.node_id AND s.sensor = t.sensor'),
  ) as [number, number, string, string, TemperatureReading['source'], number][]) {
    const n = byId.get(id)!;
    (n.temperature ??= { timeMs: time * 1000, readings: [] }).readings.push({ sensor, type, source, celsius });
  }
  for (const [id, time, load1, load5, load15] of rows(LATEST('load', 't.load1, t.load5, t.load15')) as number[][]) {
    byId.get(id!)!.load = { timeMs: time! * 1000, load1: load1!, load5: load5!, load15: load15! };
  }
  for (const r of rows(
    LATEST('memory', 't.mem_total_bytes, t.mem_free_bytes, t.mem_available_bytes, t.buffers_bytes, t.cached_bytes, t.swap_total_bytes, t.swap_free_bytes, t.used_percent, t.nvmap_used_bytes'),
  ) as (number | null)[][]) {
    const opt = (v: number | null) => v ?? undefined;
    byId.get(r[0]!)!.memory = {
      timeMs: r[1]! * 1000,
      sample: { memTotalBytes: r[2]!, memFreeBytes: r[3]!, memAvailableBytes: opt(r[4]!), buffersBytes: opt(r[5]!), cachedBytes: opt(r[6]!), swapTotalBytes: opt(r[7]!), swapFreeBytes: opt(r[8]!), usedPercent: r[9]!, nvMapMemUsedBytes: opt(r[10]!) },
    };
  }
  for (const [id, time, mountPoint, device, fsType, files, free, pct] of rows(
    LATEST('inodes', 't.mount_point, m.device, m.fs_type, t.files, t.files_free, t.used_percent', 'JOIN mounts m ON m.node_id = t.node_id AND m.mount_point = t.mount_point'),
  ) as [number, number, string, string, string, number, number, number][]) {
    const n = byId.get(id)!;
    (n.inodes ??= { timeMs: time * 1000, mounts: [] }).mounts.push({ mountPoint, device, fsType, files, filesFree: free, usedPercent: pct });
  }
  for (const [id, time, iface, operState, carrier, speed] of rows(
    LATEST('network', 't.iface, t.oper_state, t.carrier, t.speed_bytes_per_second', 'WHERE t.oper_state IS NOT NULL OR t.carrier IS NOT NULL OR t.speed_bytes_per_second IS NOT NULL'),
  ) as [number, number, string, string | null, number | null, number | null][]) {
    const n = byId.get(id)!;
    const link: NetLink = { iface };
    if (operState !== null) link.operState = operState;
    if (carrier !== null) link.carrier = carrier;
    if (speed !== null) link.speedBytesPerSecond = speed;
    (n.links ??= { timeMs: time * 1000, links: [] }).links.push(link);
  }
  for (const r of rows(
    LATEST('nvidia_gpu', `t.uuid, t.gpu_index, t.name, t.utilization_gpu_percent, t.utilization_memory_percent, t.memory_used_bytes, t.memory_total_bytes,
      t.temperature_celsius, t.power_draw_watts, t.power_limit_watts, t.sm_clock_mhz, t.mem_clock_mhz, t.throttle_reasons`),
  ) as (number | string | null)[][]) {
    const n = byId.get(r[0] as number)!;
    const g: NvidiaGpu = { uuid: r[2] as string, index: r[3] as number, name: r[4] as string };
    const keys = ['utilizationGpuPercent', 'utilizationMemoryPercent', 'memoryUsedBytes', 'memoryTotalBytes', 'temperatureCelsius', 'powerDrawWatts', 'powerLimitWatts', 'smClockMhz', 'memClockMhz', 'throttleReasons'] as const;
    keys.forEach((k, i) => {
      const v = r[5 + i];
      if (v !== null && v !== undefined) g[k] = v as number;
    });
    (n.nvidia ??= { timeMs: (r[1] as number) * 1000, gpus: [] }).gpus.push(g);
  }
  for (const [id, time, mountPoint, device, fsType, total, used, avail, pct] of rows(
    LATEST('storage', 't.mount_point, m.device, m.fs_type, t.total_bytes, t.used_bytes, t.available_bytes, t.used_percent', 'JOIN mounts m ON m.node_id = t.node_id AND m.mount_point = t.mount_point'),
  ) as [number, number, string, string, string, number, number, number, number][]) {
    const n = byId.get(id)!;
    (n.storage ??= { timeMs: time * 1000, mounts: [] }).mounts.push({ mountPoint, device, fsType, totalBytes: total, usedBytes: used, availableBytes: avail, usedPercent: pct });
  }
  for (const [id, kind, timeMs, json] of rows(`SELECT node_id, kind, time_ms, sample_json FROM counter_state WHERE kind IN ('cpu', 'network', 'diskio', 'pressure')`) as [number, string, number, string][]) {
    const n = byId.get(id);
    if (!n) continue;
    const sample = JSON.parse(json) as { cpus?: CpuTimes[]; bootTimeUnixSeconds?: number; interfaces?: NetDevCounters[]; devices?: DiskStats[]; totals?: NonNullable<NodeSnapshot['pressure']>['totals'] };
    if (kind === 'cpu' && sample.cpus) n.cpu = { timeMs, cpus: sample.cpus, bootTimeUnixSeconds: sample.bootTimeUnixSeconds };
    if (kind === 'network' && sample.interfaces) n.network = { timeMs, interfaces: sample.interfaces };
    if (kind === 'diskio' && sample.devices) n.diskio = { timeMs, devices: sample.devices };
    if (kind === 'pressure' && sample.totals) n.pressure = { timeMs, totals: sample.totals };
  }
  // Issue 18's kinds: the newest row of each table, NULL columns absent.
  const opt = <T>(v: T | null): T | undefined => (v === null ? undefined : v);
  for (const [id, time, device, load, cur, min, max, governor, emc, mode, modeId] of rows(
    LATEST('tegra_gpu', 't.device, t.load_percent, t.cur_freq_hertz, t.min_freq_hertz, t.max_freq_hertz, t.governor, t.emc_freq_hertz, t.power_mode, t.power_mode_id'),
  ) as [number, number, string, number | null, number | null, number | null, number | null, string | null, number | null, string | null, number | null][]) {
    const n = byId.get(id)!;
    (n.tegraGpu ??= { timeMs: time * 1000, gpus: [] }).gpus.push({
      device, loadPercent: opt(load), curFreqHertz: opt(cur), minFreqHertz: opt(min), maxFreqHertz: opt(max), governor: opt(governor), emcFreqHertz: opt(emc), powerMode: opt(mode), powerModeId: opt(modeId),
    });
  }
  for (const [id, time, rail, source, sensor, volts, amperes, watts, joules] of rows(LATEST('power_rails', 't.rail, t.source, t.sensor, t.volts, t.amperes, t.watts, t.joules_total')) as [
    number, number, string, 'ina3221' | 'rapl', string, number | null, number | null, number | null, number | null,
  ][]) {
    const n = byId.get(id)!;
    (n.power ??= { timeMs: time * 1000, sample: { rails: [] } }).sample.rails.push({ rail, source, sensor, volts: opt(volts), amperes: opt(amperes), watts: opt(watts), joulesTotal: opt(joules) });
  }
  for (const [id, time, watts, of] of rows(LATEST('power', 't.watts, t.total_of')) as [number, number, number, string][]) {
    const n = byId.get(id)!;
    if (n.power && n.power.timeMs === time * 1000) Object.assign(n.power.sample, { totalWatts: watts, totalOf: of });
  }
  const clocks = (id: number, time: number) => (byId.get(id)!.clocks ??= { timeMs: time * 1000, sample: { frequencies: [], throttles: [] } }).sample;
  for (const [id, time, cpu, cur, min, max] of rows(LATEST('cpu_frequency', 't.cpu, t.cur_hertz, t.min_hertz, t.max_hertz')) as [number, number, string, number | null, number | null, number | null][]) {
    clocks(id, time).frequencies.push({ cpu, curHertz: opt(cur), minHertz: opt(min), maxHertz: opt(max) });
  }
  for (const [id, time, cpu, pkg, core, coreThrottles, packageThrottles] of rows(LATEST('cpu_throttle', 't.cpu, t.package, t.core, t.core_throttles, t.package_throttles')) as [
    number, number, string, string | null, string | null, number | null, number | null,
  ][]) {
    clocks(id, time).throttles.push({ cpu, package: opt(pkg), core: opt(core), coreThrottles: opt(coreThrottles), packageThrottles: opt(packageThrottles) });
  }
  for (const [id, time, flags, source] of rows(LATEST('rpi_throttled', 't.flags, t.source')) as [number, number, number, 'sysfs' | 'vcgencmd'][]) {
    clocks(id, time).rpiThrottled = { flags, source };
  }
  for (const [id, time, kind, success, durationMs] of rows(LATEST_RUNS) as [number, number, string, number, number][]) {
    const n = byId.get(id)!;
    (n.runs ??= { timeMs: time * 1000, kinds: [] }).kinds.push({ kind, success: success === 1, durationMs });
  }
  return [...byId.values()];
}

/**
 * A value that changes whenever the database does: commits of other connections (SQLite's
 * `data_version`) and rows this connection changed (`total_changes()`). Equal stamps, equal
 * contents: a reader may reuse what it derived from them (GET /metrics' body).
 */
export function changeStamp(db: Db): string {
  return `${db.pragma('data_version', { simple: true }) as number}:${db.prepare('SELECT total_changes()').pluck().get() as number}`;
}

/** Open anomaly episodes per node, series, detector and kind. */
export function openAnomalyCounts(db: Db): { instance: string; series: string; detector: string; kind: string; count: number }[] {
  return db
    .prepare(
      `SELECT n.name AS instance, a.series, a.detector, a.kind, COUNT(*) AS count FROM anomalies a JOIN nodes n ON n.id = a.node_id
       WHERE a.end_unix_seconds IS NULL AND n.removed_unix_seconds IS NULL GROUP BY n.name, a.series, a.detector, a.kind ORDER BY 1, 2, 3, 4`,
    )
    .all() as { instance: string; series: string; detector: string; kind: string; count: number }[];
}

/** Per node, model and tag: the state of its newest deployment (by when its node row last changed). */
export function latestDeploymentStates(db: Db): { instance: string; model: string; tag: string; state: string; deploymentId: string }[] {
  return db
    .prepare(
      `SELECT dn.node AS instance, d.repository AS model, d.tag, dn.state, dn.deployment_id AS deploymentId, MAX(dn.updated_unix_seconds)
       FROM deployment_nodes dn JOIN deployments d ON d.id = dn.deployment_id GROUP BY dn.node, d.repository, d.tag ORDER BY 1, 2, 3`,
    )
    .all() as { instance: string; model: string; tag: string; state: string; deploymentId: string }[];
}

/** Inference latency bucket counts per node, model and tag; `le` are upper bounds in ms. */
export interface LatencyHistogram {
  nodeId: number;
  instance: string;
  model: string;
  tag: string;
  /** Cumulative: counts[i] inferences took ≤ le[i] ms. */
  counts: number[];
  count: number;
  sumMs: number;
}

interface HistogramCache {
  lastId: number;
  byKey: Map<string, LatencyHistogram>;
}
const histogramCaches = new WeakMap<Db, Map<string, HistogramCache>>();

/**
 * Cumulative inference latency histograms. The first call counts the whole table in one
 * GROUP BY; later calls (same process and database) only add rows past the last id seen, so
 * the counts only grow, as a Prometheus counter must, even when retention deletes old rows.
 * A restart recounts what the table holds: a counter reset, which rate() expects.
 */
export function inferenceLatencyHistograms(db: Db, leMs: readonly number[]): LatencyHistogram[] {
  let caches = histogramCaches.get(db);
  if (!caches) histogramCaches.set(db, (caches = new Map()));
  const cacheKey = leMs.join(',');
  let cache = caches.get(cacheKey);
  // Ids come back only if the table was emptied (retention of everything): count afresh then.
  const maxId = (db.prepare('SELECT MAX(id) AS id FROM inference').get() as { id: number | null }).id ?? 0;
  if (!cache || maxId < cache.lastId) caches.set(cacheKey, (cache = { lastId: 0, byKey: new Map() }));
  const rows = db
    .prepare(
      `SELECT i.node_id, n.name, i.model, i.tag, MAX(i.id), COUNT(*), SUM(i.latency_ms), ${leMs.map((le) => `SUM(i.latency_ms <= ${Number(le)})`).join(', ')}
       FROM inference i JOIN nodes n ON n.id = i.node_id WHERE i.id > ? AND i.latency_ms IS NOT NULL GROUP BY i.node_id, i.model, i.tag`,
    )
    .raw(true)
    .all(cache.lastId) as (number | string)[][];
  let seen = cache.lastId;
  for (const r of rows) {
    const [nodeId, instance, model, tag, lastId, count, sum] = r as [number, string, string, string, number, number, number];
    seen = Math.max(seen, lastId);
    const key = `${nodeId}\0${model}\0${tag}`;
    let h = cache.byKey.get(key);
    if (!h) cache.byKey.set(key, (h = { nodeId, instance, model, tag, counts: leMs.map(() => 0), count: 0, sumMs: 0 }));
    h.count += count;
    h.sumMs += sum;
    for (let i = 0; i < leMs.length; i++) h.counts[i]! += r[7 + i] as number;
  }
  // SQLite has one writer at a time and gives each new row an id above every committed one, so
  // no row can show up later below the cursor.
  cache.lastId = seen;
  return [...cache.byKey.values()];
}
