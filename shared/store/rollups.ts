import type { Db } from './db.js';

/**
 * The series kept as rollups: every value the dashboards draw, so that a long range reads
 * rollups only. Each is one value (a column or an expression) of a raw table, labelled by that
 * table's series column (sensor, cpu, mount point, interface) or '' for one per node.
 */
interface RollupSeries {
  series: string;
  table: string;
  /** SQL of the label: a column of `table`, or `''`. */
  label: string;
  /** SQL of the value over `table`'s columns. */
  value: string;
  where?: string;
}

const cpuModes = ['user', 'nice', 'system', 'iowait', 'irq', 'softirq', 'steal'].map(
  (m): RollupSeries => ({ series: `cpu.${m}_percent`, table: 'cpu', label: 'cpu', value: `${m}_percent`, where: "cpu = 'all'" }),
);
const memory = (name: string, value: string): RollupSeries => ({ series: `memory.${name}`, table: 'memory', label: "''", value });
const network = ['bytes', 'packets', 'errors', 'drops'].flatMap((k) =>
  ['rx', 'tx'].map((d): RollupSeries => ({ series: `network.${d}_${k}_per_second`, table: 'network', label: 'iface', value: `${d}_${k}_per_second` })),
);

export const ROLLUP_SERIES: readonly RollupSeries[] = [
  { series: 'temperature.celsius', table: 'temperature', label: 'sensor', value: 'celsius' },
  { series: 'cpu.usage_percent', table: 'cpu', label: 'cpu', value: 'usage_percent' },
  ...cpuModes,
  ...['load1', 'load5', 'load15'].map((l): RollupSeries => ({ series: `load.${l}`, table: 'load', label: "''", value: l })),
  memory('used_percent', 'used_percent'),
  // What the kernel cannot reclaim: MemAvailable when the kernel has it, else free + buffers + cached.
  memory('used_bytes', 'mem_total_bytes - COALESCE(mem_available_bytes, mem_free_bytes + COALESCE(buffers_bytes, 0) + COALESCE(cached_bytes, 0))'),
  memory('available_bytes', 'mem_available_bytes'),
  memory('cached_bytes', 'cached_bytes'),
  memory('buffers_bytes', 'buffers_bytes'),
  memory('free_bytes', 'mem_free_bytes'),
  memory('total_bytes', 'mem_total_bytes'),
  memory('swap_used_bytes', 'swap_total_bytes - swap_free_bytes'),
  memory('swap_total_bytes', 'swap_total_bytes'),
  ...['used_percent', 'used_bytes', 'total_bytes'].map((c): RollupSeries => ({ series: `storage.${c}`, table: 'storage', label: 'mount_point', value: c })),
  ...network,
  memory('nvmap_used_bytes', 'nvmap_used_bytes'),
  ...['read_bytes_per_second', 'written_bytes_per_second', 'reads_per_second', 'writes_per_second', 'utilization_percent'].map(
    (c): RollupSeries => ({ series: `diskio.${c}`, table: 'diskio', label: 'device', value: c }),
  ),
  { series: 'inodes.used_percent', table: 'inodes', label: 'mount_point', value: 'used_percent' },
  ...['some_percent', 'full_percent', 'some_avg10', 'full_avg10'].map((c): RollupSeries => ({ series: `pressure.${c}`, table: 'pressure', label: 'resource', value: c })),
  // Labelled `index name` (what nvidia-smi shows); the raw table keeps the UUID.
  // throttle_reasons is a bitmask: only its max (non-zero: throttled in the bucket) means something.
  ...['utilization_gpu_percent', 'utilization_memory_percent', 'memory_used_bytes', 'temperature_celsius', 'power_draw_watts', 'sm_clock_mhz', 'mem_clock_mhz', 'throttle_reasons'].map(
    (c): RollupSeries => ({ series: `nvidia.${c}`, table: 'nvidia_gpu', label: "CAST(gpu_index AS TEXT) || ' ' || name", value: c }),
  ),
  // Issue 18: the Tegra GPU per device, power per rail and the node's total, CPU clocks, throttling.
  { series: 'gpu.load_percent', table: 'tegra_gpu', label: 'device', value: 'load_percent' },
  { series: 'gpu.freq_hertz', table: 'tegra_gpu', label: 'device', value: 'cur_freq_hertz' },
  { series: 'gpu.emc_freq_hertz', table: 'tegra_gpu', label: 'device', value: 'emc_freq_hertz' },
  { series: 'power.rail_watts', table: 'power_rails', label: 'rail', value: 'watts' },
  { series: 'power.watts', table: 'power', label: "''", value: 'watts' },
  { series: 'clocks.cpu_freq_hertz', table: 'cpu_frequency', label: 'cpu', value: 'cur_hertz' },
  { series: 'clocks.core_throttles', table: 'cpu_throttle', label: 'cpu', value: 'core_throttles_new' },
  // The Pi's four "now" flags (bits 0-3) as one number; the rules read each bit.
  { series: 'clocks.rpi_throttled_now', table: 'rpi_throttled', label: "''", value: 'flags & 15' },
  // One value per inference (shared/collect/inference.ts), labelled `model:tag`; errors have no latency.
  { series: 'inference.latency_ms', table: 'inference', label: "model || ':' || tag", value: 'latency_ms' },
];

export const ROLLUP_LEVELS = [
  { level: '1m', table: 'rollup_1m', bucketSeconds: 60 },
  { level: '1h', table: 'rollup_1h', bucketSeconds: 3600 },
  // For fleet-wide charts over weeks: hundreds of series × hourly points is more than a chart
  // can show or SQLite can hand over in a dashboard's time.
  { level: '6h', table: 'rollup_6h', bucketSeconds: 21600 },
] as const;

/** A sample may land this long after its round's time (a slow node, a command timeout). */
export const LATE_SECONDS = 60;
/** Work is done in transactions of at most this much time, so a catch-up never holds the writer long. */
const CHUNK_SECONDS = 3600;
const CHUNK_TARGET_MS = 10;

export interface RollupSummary {
  level: string;
  fromUnixSeconds: number;
  toUnixSeconds: number;
  buckets: number;
  rows: number;
}

const yieldToCollections = () => new Promise((r) => setImmediate(r));

function watermark(db: Db, level: string): number | undefined {
  const row = db.prepare('SELECT done_until_unix_seconds AS t FROM rollup_state WHERE level = ?').get(level) as { t: number } | undefined;
  return row?.t;
}

/** The oldest raw sample of any rolled-up table (one index seek per node and table). */
function oldestRaw(db: Db): number | undefined {
  const tables = [...new Set(ROLLUP_SERIES.map((s) => s.table))];
  const row = db
    .prepare(`SELECT MIN(t) AS t FROM (${tables.map((t) => `SELECT (SELECT MIN(time) FROM ${t} WHERE node_id = n.id) AS t FROM nodes n`).join(' UNION ALL ')})`)
    .get() as { t: number | null };
  return row.t ?? undefined;
}

/**
 * Bring every rollup level up to date: 1-minute buckets from raw samples, each coarser level from
 * the one below it, each only for buckets that can no longer change (older than LATE_SECONDS).
 * Incremental: each level resumes from its watermark; a bucket is written once, replaced only if
 * the work is re-run. Yields between chunks so collections keep running in the same process.
 */
export async function updateRollups(db: Db, nowUnixSeconds: number): Promise<RollupSummary[]> {
  const out: RollupSummary[] = [];
  // Each level may go as far as the level below it is final.
  let doneBelow = nowUnixSeconds - LATE_SECONDS;
  for (const lvl of ROLLUP_LEVELS) {
    const end = Math.floor(doneBelow / lvl.bucketSeconds) * lvl.bucketSeconds;
    const below = ROLLUP_LEVELS[ROLLUP_LEVELS.indexOf(lvl) - 1];
    const startRaw = watermark(db, lvl.level) ?? (below ? oldestBucket(db, below.table) : oldestRaw(db));
    const summary: RollupSummary = { level: lvl.level, fromUnixSeconds: 0, toUnixSeconds: 0, buckets: 0, rows: 0 };
    if (startRaw !== undefined) {
      const start = Math.floor(startRaw / lvl.bucketSeconds) * lvl.bucketSeconds;
      summary.fromUnixSeconds = start;
      summary.toUnixSeconds = Math.max(start, end);
      const statements = below ? rollupStatements(db, below.table, lvl.table, lvl.bucketSeconds) : rawStatements(db, lvl.table, lvl.bucketSeconds);
      const setMark = db.prepare('INSERT INTO rollup_state (level, done_until_unix_seconds) VALUES (?, ?) ON CONFLICT (level) DO UPDATE SET done_until_unix_seconds = excluded.done_until_unix_seconds');
      // Chunks sized to take about CHUNK_TARGET_MS (a backlog of a big fleet would hold the
      // event loop for hundreds of ms per fixed hour), whole buckets, at most CHUNK_SECONDS.
      let chunk = CHUNK_SECONDS;
      for (let from = start; from < end; ) {
        const to = Math.min(end, from + Math.max(lvl.bucketSeconds, Math.floor(chunk / lvl.bucketSeconds) * lvl.bucketSeconds));
        const t0 = performance.now();
        db.transaction(() => {
          for (const stmt of statements) summary.rows += stmt.run({ from, to }).changes;
          setMark.run(lvl.level, to);
        }).immediate();
        const ms = performance.now() - t0;
        chunk = Math.min(CHUNK_SECONDS, Math.max(lvl.bucketSeconds, (to - from) * Math.min(2, CHUNK_TARGET_MS / Math.max(ms, 1))));
        summary.buckets += (to - from) / lvl.bucketSeconds;
        from = to;
        await yieldToCollections();
      }
    }
    out.push(summary);
    doneBelow = watermark(db, lvl.level) ?? 0;
  }
  return out;
}

function oldestBucket(db: Db, table: string): number | undefined {
  const row = db.prepare(`SELECT MIN((SELECT MIN(time) FROM ${table} WHERE node_id = n.id AND series = s.series)) AS t FROM nodes n, (${ROLLUP_SERIES.map((s) => `SELECT '${s.series}' AS series`).join(' UNION ALL ')}) s`).get() as { t: number | null };
  return row.t ?? undefined;
}

// `node_id IN (SELECT id FROM nodes)` lets SQLite seek each node's (node_id, time) range
// instead of scanning the table, which has no index on time alone.
// The bucket is written into the SQL: a bound JS number is a REAL, and time / 60.0 buckets nothing.
function rawStatements(db: Db, target: string, bucket: number) {
  return ROLLUP_SERIES.map((s) =>
    db.prepare(
      `INSERT OR REPLACE INTO ${target} (node_id, series, time, label, min, avg, max, count)
       SELECT node_id, '${s.series}', (time / ${bucket}) * ${bucket}, ${s.label}, MIN(${s.value}), AVG(${s.value}), MAX(${s.value}), COUNT(${s.value})
       FROM ${s.table}
       WHERE node_id IN (SELECT id FROM nodes) AND time >= @from AND time < @to AND (${s.value}) IS NOT NULL ${s.where ? `AND ${s.where}` : ''}
       GROUP BY node_id, ${s.label}, time / ${bucket}`,
    ),
  );
}

function rollupStatements(db: Db, source: string, target: string, bucket: number) {
  return ROLLUP_SERIES.map((s) =>
    db.prepare(
      `INSERT OR REPLACE INTO ${target} (node_id, series, time, label, min, avg, max, count)
       SELECT node_id, series, (time / ${bucket}) * ${bucket}, label, MIN(min), SUM(avg * count) / SUM(count), MAX(max), SUM(count)
       FROM ${source}
       WHERE node_id IN (SELECT id FROM nodes) AND series = '${s.series}' AND time >= @from AND time < @to
       GROUP BY node_id, label, time / ${bucket}`,
    ),
  );
}
