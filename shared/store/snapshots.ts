import type { ClocksSample, CpuTimes, DiskStats, InodesSample, MemorySample, NetDevCounters, NetLink, NodeStatus, NvidiaGpu, PowerSample, StorageSample, TegraGpuReading, TemperatureReading } from '../domain/index.js';
import { asSql, type SqlOrDb } from './sqliteSql.js';
import type { SqlDb } from './sql.js';

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

/** A node as the snapshot readers meet it (nodes not removed), with its own part of every table. */
export interface SnapshotNode {
  id: number;
  instance: string;
  groups: string[];
  status: NodeStatus;
  lastSeenUnixSeconds: number | null;
}

/** What readSnapshots hands on, table by table. */
export interface SnapshotVisitor {
  /** The nodes, in id order, before any part. */
  nodes(nodes: readonly SnapshotNode[]): void;
  /**
   * One node's newest rows of one table (or of the few that make one kind: power, clocks) as a
   * snapshot holding that kind only. Each table's parts come in node id order.
   */
  part(node: SnapshotNode, part: NodeSnapshot): void;
}

/**
 * Each node's newest stored sample of every kind, through the SQL port (either store): one query
 * per table, each a seek per node on its (node_id, time, …) key, ordered by node and series.
 * Handed on as each table is read and then dropped, so a render holds one table's rows at a
 * time, not a tree of the fleet (which every scavenge of a 116,000-sample render had to copy).
 */
export async function readSnapshots(sqlOrDb: SqlOrDb, visit: SnapshotVisitor): Promise<void> {
  const sql = asSql(sqlOrDb);
  const pg = sql.dialect === 'postgres';
  // SQLite: CROSS JOIN keeps the planner from scanning the metric table and probing nodes instead.
  const J = pg ? 'JOIN' : 'CROSS JOIN';
  // Series names in byte order on both (SQLite's BINARY; a PostgreSQL database may sort by locale).
  const C = pg ? ' COLLATE "C"' : '';
  /**
   * The newest rows of `table` per node, by node and then `key`. SQLite: the node's newest time
   * as the seek key of its rows (a correlated subquery, once per node), nodes scanned by id and
   * the rows by their primary key, so the order needs no sort. PostgreSQL: the newest times
   * first, materialized, then the rows (its planner seeks each per node that way).
   */
  const latest = (table: string, columns: string, key: string, join = '') =>
    sql.rows(
      pg
        ? `WITH newest AS MATERIALIZED (SELECT n.id, (SELECT MAX(time) FROM ${table} WHERE node_id = n.id) AS time FROM nodes n WHERE n.removed_unix_seconds IS NULL)
           SELECT t.node_id AS id, t.time AS time, ${columns} FROM newest JOIN ${table} t ON t.node_id = newest.id AND t.time = newest.time ${join}
           ORDER BY t.node_id${key ? `, ${key}${C}` : ''}`
        : `SELECT t.node_id AS id, t.time AS time, ${columns} FROM nodes n
           CROSS JOIN ${table} t ON t.node_id = n.id AND t.time = (SELECT MAX(time) FROM ${table} WHERE node_id = n.id)
           ${join.startsWith('WHERE ') ? `WHERE n.removed_unix_seconds IS NULL AND (${join.slice(6)})` : `${join} WHERE n.removed_unix_seconds IS NULL`}
           ORDER BY n.id${key ? `, ${key}` : ''}`,
    );

  const nodes: SnapshotNode[] = [];
  const byId = new Map<number, SnapshotNode>();
  for (const [id, name, groups, status, lastSeen] of (await sql.rows(
    'SELECT id, name, groups_json, status, last_seen_unix_seconds FROM nodes WHERE removed_unix_seconds IS NULL ORDER BY id',
  )) as [number, string, string, NodeStatus, number | null][]) {
    const n: SnapshotNode = { id, instance: name, groups: JSON.parse(groups) as string[], status, lastSeenUnixSeconds: lastSeen };
    nodes.push(n);
    byId.set(id, n);
  }
  visit.nodes(nodes);
  const emit = (n: SnapshotNode, kinds: Partial<NodeSnapshot>) =>
    visit.part(n, { instance: n.instance, groups: n.groups, status: n.status, lastSeenUnixSeconds: n.lastSeenUnixSeconds, ...kinds });
  /** Each run of rows with one node id (column 0), with its node; rows of a removed node skipped. */
  const perNode = (rows: unknown[][], f: (n: SnapshotNode, rows: unknown[][], from: number, to: number) => void) => {
    for (let i = 0; i < rows.length; ) {
      const id = rows[i]![0] as number;
      let j = i + 1;
      while (j < rows.length && rows[j]![0] === id) j++;
      const n = byId.get(id);
      if (n) f(n, rows, i, j);
      i = j;
    }
  };
  const opt = <T>(v: T | null): T | undefined => (v === null ? undefined : v);
  const timeMs = (rows: unknown[][], i: number) => (rows[i]![1] as number) * 1000;

  // The runs of each node's newest round: two rounds in one second both keep theirs (keyed by
  // round), the later one's. The round is found once per node (a row value), not once per run row.
  perNode(
    await sql.rows(`SELECT t.node_id, t.time, t.kind, t.success, t.duration_ms FROM nodes n
      ${J} collector_runs t ON t.node_id = n.id AND (t.time, t.round_id) = (SELECT time, round_id FROM collector_runs WHERE node_id = n.id ORDER BY time DESC, round_id DESC LIMIT 1)
      WHERE n.removed_unix_seconds IS NULL ORDER BY n.id, t.kind${C}`),
    (n, rows, from, to) => {
      const kinds: NonNullable<NodeSnapshot['runs']>['kinds'] = [];
      for (let i = from; i < to; i++) {
        const r = rows[i]!;
        kinds.push({ kind: r[2] as string, success: r[3] === 1, durationMs: r[4] as number });
      }
      emit(n, { runs: { timeMs: timeMs(rows, from), kinds } });
    },
  );
  perNode(await latest('temperature', 't.sensor, s.type, s.source, t.celsius', 't.sensor', 'JOIN temperature_sensors s ON s.node_id = t.node_id AND s.sensor = t.sensor'), (n, rows, from, to) => {
    const readings: TemperatureReading[] = [];
    for (let i = from; i < to; i++) {
      const r = rows[i]!;
      readings.push({ sensor: r[2] as string, type: r[3] as string, source: r[4] as TemperatureReading['source'], celsius: r[5] as number });
    }
    emit(n, { temperature: { timeMs: timeMs(rows, from), readings } });
  });
  perNode(await latest('load', 't.load1, t.load5, t.load15', ''), (n, rows, from) => {
    const r = rows[from] as number[];
    emit(n, { load: { timeMs: r[1]! * 1000, load1: r[2]!, load5: r[3]!, load15: r[4]! } });
  });
  perNode(
    await latest('memory', 't.mem_total_bytes, t.mem_free_bytes, t.mem_available_bytes, t.buffers_bytes, t.cached_bytes, t.swap_total_bytes, t.swap_free_bytes, t.used_percent, t.nvmap_used_bytes', ''),
    (n, rows, from) => {
      const r = rows[from] as (number | null)[];
      emit(n, {
        memory: {
          timeMs: r[1]! * 1000,
          sample: { memTotalBytes: r[2]!, memFreeBytes: r[3]!, memAvailableBytes: opt(r[4]!), buffersBytes: opt(r[5]!), cachedBytes: opt(r[6]!), swapTotalBytes: opt(r[7]!), swapFreeBytes: opt(r[8]!), usedPercent: r[9]!, nvMapMemUsedBytes: opt(r[10]!) },
        },
      });
    },
  );
  perNode(await latest('inodes', 't.mount_point, m.device, m.fs_type, t.files, t.files_free, t.used_percent', 't.mount_point', 'JOIN mounts m ON m.node_id = t.node_id AND m.mount_point = t.mount_point'), (n, rows, from, to) => {
    const mounts: InodesSample[] = [];
    for (let i = from; i < to; i++) {
      const r = rows[i]!;
      mounts.push({ mountPoint: r[2] as string, device: r[3] as string, fsType: r[4] as string, files: r[5] as number, filesFree: r[6] as number, usedPercent: r[7] as number });
    }
    emit(n, { inodes: { timeMs: timeMs(rows, from), mounts } });
  });
  perNode(
    await latest('network', 't.iface, t.oper_state, t.carrier, t.speed_bytes_per_second', 't.iface', 'WHERE t.oper_state IS NOT NULL OR t.carrier IS NOT NULL OR t.speed_bytes_per_second IS NOT NULL'),
    (n, rows, from, to) => {
      const links: NetLink[] = [];
      for (let i = from; i < to; i++) {
        const [, , iface, operState, carrier, speed] = rows[i] as [number, number, string, string | null, number | null, number | null];
        const link: NetLink = { iface };
        if (operState !== null) link.operState = operState;
        if (carrier !== null) link.carrier = carrier;
        if (speed !== null) link.speedBytesPerSecond = speed;
        links.push(link);
      }
      emit(n, { links: { timeMs: timeMs(rows, from), links } });
    },
  );
  const GPU_KEYS = ['utilizationGpuPercent', 'utilizationMemoryPercent', 'memoryUsedBytes', 'memoryTotalBytes', 'temperatureCelsius', 'powerDrawWatts', 'powerLimitWatts', 'smClockMhz', 'memClockMhz', 'throttleReasons'] as const;
  perNode(
    await latest(
      'nvidia_gpu',
      `t.uuid, t.gpu_index, t.name, t.utilization_gpu_percent, t.utilization_memory_percent, t.memory_used_bytes, t.memory_total_bytes,
       t.temperature_celsius, t.power_draw_watts, t.power_limit_watts, t.sm_clock_mhz, t.mem_clock_mhz, t.throttle_reasons`,
      't.uuid',
    ),
    (n, rows, from, to) => {
      const gpus: NvidiaGpu[] = [];
      for (let i = from; i < to; i++) {
        const r = rows[i]!;
        const g: NvidiaGpu = { uuid: r[2] as string, index: r[3] as number, name: r[4] as string };
        GPU_KEYS.forEach((k, c) => {
          const v = r[5 + c];
          if (v !== null && v !== undefined) g[k] = v as number;
        });
        gpus.push(g);
      }
      emit(n, { nvidia: { timeMs: timeMs(rows, from), gpus } });
    },
  );
  perNode(
    await latest('storage', 't.mount_point, m.device, m.fs_type, t.total_bytes, t.used_bytes, t.available_bytes, t.used_percent', 't.mount_point', 'JOIN mounts m ON m.node_id = t.node_id AND m.mount_point = t.mount_point'),
    (n, rows, from, to) => {
      const mounts: StorageSample[] = [];
      for (let i = from; i < to; i++) {
        const r = rows[i]!;
        mounts.push({ mountPoint: r[2] as string, device: r[3] as string, fsType: r[4] as string, totalBytes: r[5] as number, usedBytes: r[6] as number, availableBytes: r[7] as number, usedPercent: r[8] as number });
      }
      emit(n, { storage: { timeMs: timeMs(rows, from), mounts } });
    },
  );
  // Counters as collected (CPU ticks as seconds, interface counters), with the hub's receive time in ms.
  for (const [id, kind, time, json] of (await sql.rows(
    `SELECT node_id, kind, time_ms, sample_json FROM counter_state WHERE kind IN ('cpu', 'network', 'diskio', 'pressure') ORDER BY node_id, kind${C}`,
  )) as [number, string, number, string][]) {
    const n = byId.get(id);
    if (!n) continue;
    const sample = JSON.parse(json) as { cpus?: CpuTimes[]; bootTimeUnixSeconds?: number; interfaces?: NetDevCounters[]; devices?: DiskStats[]; totals?: NonNullable<NodeSnapshot['pressure']>['totals'] };
    if (kind === 'cpu' && sample.cpus) emit(n, { cpu: { timeMs: time, cpus: sample.cpus, bootTimeUnixSeconds: sample.bootTimeUnixSeconds } });
    if (kind === 'network' && sample.interfaces) emit(n, { network: { timeMs: time, interfaces: sample.interfaces } });
    if (kind === 'diskio' && sample.devices) emit(n, { diskio: { timeMs: time, devices: sample.devices } });
    if (kind === 'pressure' && sample.totals) emit(n, { pressure: { timeMs: time, totals: sample.totals } });
  }

  // Issue 18's kinds: the newest row of each table, NULL columns absent.
  perNode(
    await latest('tegra_gpu', 't.device, t.load_percent, t.cur_freq_hertz, t.min_freq_hertz, t.max_freq_hertz, t.governor, t.emc_freq_hertz, t.power_mode, t.power_mode_id', 't.device'),
    (n, rows, from, to) => {
      const gpus: TegraGpuReading[] = [];
      for (let i = from; i < to; i++) {
        const [, , device, load, cur, min, max, governor, emc, mode, modeId] = rows[i] as [number, number, string, number | null, number | null, number | null, number | null, string | null, number | null, string | null, number | null];
        gpus.push({ device, loadPercent: opt(load), curFreqHertz: opt(cur), minFreqHertz: opt(min), maxFreqHertz: opt(max), governor: opt(governor), emcFreqHertz: opt(emc), powerMode: opt(mode), powerModeId: opt(modeId) });
      }
      emit(n, { tegraGpu: { timeMs: timeMs(rows, from), gpus } });
    },
  );
  // The rails with the node's total of the same round (table power), where there is one.
  perNode(
    await latest('power_rails', 't.rail, t.source, t.sensor, t.volts, t.amperes, t.watts, t.joules_total, p.watts, p.total_of', 't.rail', 'LEFT JOIN power p ON p.node_id = t.node_id AND p.time = t.time'),
    (n, rows, from, to) => {
      const sample: PowerSample = { rails: [] };
      for (let i = from; i < to; i++) {
        const [, , rail, source, sensor, volts, amperes, watts, joules] = rows[i] as [number, number, string, 'ina3221' | 'rapl', string, number | null, number | null, number | null, number | null];
        sample.rails.push({ rail, source, sensor, volts: opt(volts), amperes: opt(amperes), watts: opt(watts), joulesTotal: opt(joules) });
      }
      const [total, of] = rows[from]!.slice(9) as [number | null, string | null];
      if (total !== null) Object.assign(sample, { totalWatts: total, totalOf: of });
      emit(n, { power: { timeMs: timeMs(rows, from), sample } });
    },
  );
  // Clocks from three tables, one part per node at the time of the first that has rows.
  const clocks = new Map<number, { timeMs: number; sample: ClocksSample }>();
  const clocksOf = (n: SnapshotNode, rows: unknown[][], i: number) => {
    let c = clocks.get(n.id);
    if (!c) clocks.set(n.id, (c = { timeMs: timeMs(rows, i), sample: { frequencies: [], throttles: [] } }));
    return c.sample;
  };
  perNode(await latest('cpu_frequency', 't.cpu, t.cur_hertz, t.min_hertz, t.max_hertz', 't.cpu'), (n, rows, from, to) => {
    const c = clocksOf(n, rows, from);
    for (let i = from; i < to; i++) {
      const [, , cpu, cur, min, max] = rows[i] as [number, number, string, number | null, number | null, number | null];
      c.frequencies.push({ cpu, curHertz: opt(cur), minHertz: opt(min), maxHertz: opt(max) });
    }
  });
  perNode(await latest('cpu_throttle', 't.cpu, t.package, t.core, t.core_throttles, t.package_throttles', 't.cpu'), (n, rows, from, to) => {
    const c = clocksOf(n, rows, from);
    for (let i = from; i < to; i++) {
      const [, , cpu, pkg, core, coreThrottles, packageThrottles] = rows[i] as [number, number, string, string | null, string | null, number | null, number | null];
      c.throttles.push({ cpu, package: opt(pkg), core: opt(core), coreThrottles: opt(coreThrottles), packageThrottles: opt(packageThrottles) });
    }
  });
  perNode(await latest('rpi_throttled', 't.flags, t.source', ''), (n, rows, from) => {
    const [, , flags, source] = rows[from] as [number, number, number, 'sysfs' | 'vcgencmd'];
    clocksOf(n, rows, from).rpiThrottled = { flags, source };
  });
  for (const n of nodes) {
    const c = clocks.get(n.id);
    if (c) emit(n, { clocks: c });
  }
}

/**
 * A value that changes whenever the database does, so a reader may reuse what it derived from
 * the contents while the stamp is the same (GET /metrics' body). SQLite: commits of other
 * connections (`data_version`) and rows this connection changed (`total_changes()`). PostgreSQL:
 * the transaction snapshot (`pg_current_snapshot()`, xmin:xmax:in-progress list), which stays
 * the same exactly while no transaction that wrote (and so took an id) started or ended, in any
 * database of the server: a change elsewhere costs a render, never a stale body.
 */
export async function changeStamp(sqlOrDb: SqlOrDb): Promise<string> {
  const sql = asSql(sqlOrDb);
  if (sql.dialect === 'postgres') return String((await sql.rows('SELECT CAST(pg_current_snapshot() AS TEXT)'))[0]![0]);
  const [[version]] = (await sql.rows('PRAGMA data_version')) as [[number]];
  const [[changes]] = (await sql.rows('SELECT total_changes()')) as [[number]];
  return `${version}:${changes}`;
}

/** Open anomaly episodes per node, series, detector and kind. */
export async function openAnomalyCounts(sqlOrDb: SqlOrDb): Promise<{ instance: string; series: string; detector: string; kind: string; count: number }[]> {
  const sql = asSql(sqlOrDb);
  const C = sql.dialect === 'postgres' ? ' COLLATE "C"' : '';
  const rows = (await sql.rows(
    `SELECT n.name, a.series, a.detector, a.kind, COUNT(*) FROM anomalies a JOIN nodes n ON n.id = a.node_id
     WHERE a.end_unix_seconds IS NULL AND n.removed_unix_seconds IS NULL GROUP BY n.name, a.series, a.detector, a.kind ORDER BY n.name${C}, a.series${C}, a.detector${C}, a.kind${C}`,
  )) as [string, string, string, string, number][];
  return rows.map(([instance, series, detector, kind, count]) => ({ instance, series, detector, kind, count }));
}

/** Per node, model and tag: the state of its newest deployment (by when its node row last changed; the later id on a tie). */
export async function latestDeploymentStates(sqlOrDb: SqlOrDb): Promise<{ instance: string; model: string; tag: string; state: string; deploymentId: string }[]> {
  const sql = asSql(sqlOrDb);
  const C = sql.dialect === 'postgres' ? ' COLLATE "C"' : '';
  const rows = (await sql.rows(
    `SELECT node, model, tag, state, deployment_id FROM (
       SELECT dn.node, d.repository AS model, d.tag, dn.state, dn.deployment_id,
         ROW_NUMBER() OVER (PARTITION BY dn.node, d.repository, d.tag ORDER BY dn.updated_unix_seconds DESC, dn.deployment_id${C} DESC) AS newest
       FROM deployment_nodes dn JOIN deployments d ON d.id = dn.deployment_id) x
     WHERE newest = 1 ORDER BY node${C}, model${C}, tag${C}`,
  )) as [string, string, string, string, string][];
  return rows.map(([instance, model, tag, state, deploymentId]) => ({ instance, model, tag, state, deploymentId }));
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
  /** Every row with an id up to this one is counted. */
  lastId: number;
  byKey: Map<string, LatencyHistogram>;
  /** PostgreSQL: the newest id each recent call saw, with when (see inferenceLatencyHistograms). */
  seen: { atMs: number; maxId: number }[];
}
const histogramCaches = new WeakMap<SqlDb, Map<string, HistogramCache>>();

/**
 * How long a PostgreSQL row may stay uncommitted after a higher id was committed. Longer than
 * any write transaction of edgefleet's (statement_timeout bounds each statement; the inference
 * writes are one statement per batch).
 */
export const HISTOGRAM_SETTLE_MS = 60_000;

/**
 * Cumulative inference latency histograms. The first call counts the whole table in one
 * GROUP BY; later calls (same process and database) only add rows past the last id counted, so
 * the counts only grow, as a Prometheus counter must, even when retention deletes old rows.
 * A restart recounts what the table holds: a counter reset, which rate() expects.
 *
 * On SQLite one writer at a time gives each new row an id above every committed one, so the
 * cursor moves to the newest id seen. On PostgreSQL several writers take ids from one sequence
 * and may commit out of order: a row can appear below an id already seen. There the cursor moves
 * only to the newest id a call saw at least HISTOGRAM_SETTLE_MS ago (rows above it wait, and are
 * counted once they are that old): the counts of a PostgreSQL store lag by up to a minute.
 */
export async function inferenceLatencyHistograms(sqlOrDb: SqlOrDb, leMs: readonly number[], nowMs = Date.now()): Promise<LatencyHistogram[]> {
  const sql = asSql(sqlOrDb);
  let caches = histogramCaches.get(sql);
  if (!caches) histogramCaches.set(sql, (caches = new Map()));
  const cacheKey = leMs.join(',');
  let cache = caches.get(cacheKey);
  const [[maxIdOrNull]] = (await sql.rows('SELECT MAX(id) FROM inference')) as [[number | null]];
  const maxId = maxIdOrNull ?? 0;
  // Ids come back only if the table was emptied (retention of everything): count afresh then.
  const fresh = !cache || maxId < cache.lastId;
  if (fresh) caches.set(cacheKey, (cache = { lastId: 0, byKey: new Map(), seen: [] }));
  const c = cache!;
  let upTo = maxId;
  if (sql.dialect === 'postgres' && !fresh) {
    c.seen.push({ atMs: nowMs, maxId });
    upTo = c.lastId;
    while (c.seen.length > 0 && c.seen[0]!.atMs <= nowMs - HISTOGRAM_SETTLE_MS) upTo = Math.max(upTo, c.seen.shift()!.maxId);
  }
  if (upTo > c.lastId) {
    const rows = await sql.rows(
      `SELECT i.node_id, n.name, i.model, i.tag, COUNT(*), SUM(i.latency_ms), ${leMs.map((le) => `SUM(CASE WHEN i.latency_ms <= ${Number(le)} THEN 1 ELSE 0 END)`).join(', ')}
       FROM inference i JOIN nodes n ON n.id = i.node_id WHERE i.id > ? AND i.id <= ? AND i.latency_ms IS NOT NULL GROUP BY i.node_id, n.name, i.model, i.tag`,
      [c.lastId, upTo],
    );
    for (const r of rows) {
      const [nodeId, instance, model, tag, count, sum] = r as [number, string, string, string, number, number];
      const key = `${nodeId}\0${model}\0${tag}`;
      let h = c.byKey.get(key);
      if (!h) c.byKey.set(key, (h = { nodeId, instance, model, tag, counts: leMs.map(() => 0), count: 0, sumMs: 0 }));
      h.count += count;
      h.sumMs += sum;
      for (let i = 0; i < leMs.length; i++) h.counts[i]! += r[6 + i] as number;
    }
    c.lastId = upTo;
  }
  return [...c.byKey.values()];
}
