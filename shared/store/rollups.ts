import type { Db } from './db.js';

/**
 * The series kept as rollups: what the dashboards draw over long ranges. Each is one value
 * column of a raw table, labelled by that table's series column (sensor, cpu, mount, iface).
 */
export const ROLLUP_SERIES = [
  { series: 'temperature.celsius', table: 'temperature', label: 'sensor', value: 'celsius' },
  { series: 'cpu.usage_percent', table: 'cpu', label: 'cpu', value: 'usage_percent' },
  { series: 'cpu.user_percent', table: 'cpu', label: 'cpu', value: 'user_percent', where: "cpu = 'all'" },
  { series: 'cpu.system_percent', table: 'cpu', label: 'cpu', value: 'system_percent', where: "cpu = 'all'" },
  { series: 'cpu.iowait_percent', table: 'cpu', label: 'cpu', value: 'iowait_percent', where: "cpu = 'all'" },
  { series: 'load.load1', table: 'load', label: "''", value: 'load1' },
  { series: 'memory.used_percent', table: 'memory', label: "''", value: 'used_percent' },
  { series: 'storage.used_percent', table: 'storage', label: 'mount_point', value: 'used_percent' },
  { series: 'network.rx_bytes_per_second', table: 'network', label: 'iface', value: 'rx_bytes_per_second' },
  { series: 'network.tx_bytes_per_second', table: 'network', label: 'iface', value: 'tx_bytes_per_second' },
] as const;

export const ROLLUP_LEVELS = [
  { level: '1m', table: 'rollup_1m', bucketSeconds: 60 },
  { level: '1h', table: 'rollup_1h', bucketSeconds: 3600 },
] as const;

/** A sample may land this long after its round's time (a slow node, a command timeout). */
export const LATE_SECONDS = 60;
/** Work is done in transactions of at most this much time, so a catch-up never holds the writer long. */
const CHUNK_SECONDS = 3600;

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
 * Bring both rollup levels up to date: 1-minute buckets from raw samples, 1-hour buckets from
 * the 1-minute ones, each only for buckets that can no longer change (older than LATE_SECONDS).
 * Incremental: each level resumes from its watermark; a bucket is written once, replaced only if
 * the work is re-run. Yields between chunks so collections keep running in the same process.
 */
export async function updateRollups(db: Db, nowUnixSeconds: number): Promise<RollupSummary[]> {
  const out: RollupSummary[] = [];
  // Each level may go as far as the level below it is final.
  let doneBelow = nowUnixSeconds - LATE_SECONDS;
  for (const lvl of ROLLUP_LEVELS) {
    const end = Math.floor(doneBelow / lvl.bucketSeconds) * lvl.bucketSeconds;
    const startRaw = watermark(db, lvl.level) ?? (lvl.level === '1m' ? oldestRaw(db) : oldestBucket(db, 'rollup_1m'));
    const summary: RollupSummary = { level: lvl.level, fromUnixSeconds: 0, toUnixSeconds: 0, buckets: 0, rows: 0 };
    if (startRaw !== undefined) {
      const start = Math.floor(startRaw / lvl.bucketSeconds) * lvl.bucketSeconds;
      summary.fromUnixSeconds = start;
      summary.toUnixSeconds = Math.max(start, end);
      const statements = lvl.level === '1m' ? rawStatements(db, lvl.bucketSeconds) : rollupStatements(db, lvl.bucketSeconds);
      const setMark = db.prepare('INSERT INTO rollup_state (level, done_until_unix_seconds) VALUES (?, ?) ON CONFLICT (level) DO UPDATE SET done_until_unix_seconds = excluded.done_until_unix_seconds');
      for (let from = start; from < end; from += CHUNK_SECONDS) {
        const to = Math.min(end, from + CHUNK_SECONDS);
        db.transaction(() => {
          for (const stmt of statements) summary.rows += stmt.run({ from, to }).changes;
          setMark.run(lvl.level, to);
        })();
        summary.buckets += (to - from) / lvl.bucketSeconds;
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
function rawStatements(db: Db, bucket: number) {
  return ROLLUP_SERIES.map((s) =>
    db.prepare(
      `INSERT OR REPLACE INTO rollup_1m (node_id, series, time, label, min, avg, max, count)
       SELECT node_id, '${s.series}', (time / ${bucket}) * ${bucket}, ${s.label}, MIN(${s.value}), AVG(${s.value}), MAX(${s.value}), COUNT(${s.value})
       FROM ${s.table}
       WHERE node_id IN (SELECT id FROM nodes) AND time >= @from AND time < @to AND ${s.value} IS NOT NULL ${'where' in s ? `AND ${s.where}` : ''}
       GROUP BY node_id, ${s.label}, time / ${bucket}`,
    ),
  );
}

function rollupStatements(db: Db, bucket: number) {
  return ROLLUP_SERIES.map((s) =>
    db.prepare(
      `INSERT OR REPLACE INTO rollup_1h (node_id, series, time, label, min, avg, max, count)
       SELECT node_id, series, (time / ${bucket}) * ${bucket}, label, MIN(min), SUM(avg * count) / SUM(count), MAX(max), SUM(count)
       FROM rollup_1m
       WHERE node_id IN (SELECT id FROM nodes) AND series = '${s.series}' AND time >= @from AND time < @to
       GROUP BY node_id, label, time / ${bucket}`,
    ),
  );
}
