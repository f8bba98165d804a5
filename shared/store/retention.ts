import type { Db } from './db.js';
import { ROLLUP_SERIES } from './rollups.js';

export interface RetentionDays {
  /** Raw samples (every metric table); 0 keeps them forever. */
  rawDays: number;
  rollup1mDays: number;
  rollup1hDays: number;
  rollup6hDays: number;
  /** Closed anomaly episodes, counted from their end; 0 or absent keeps them forever. Open ones are always kept. */
  anomaliesDays?: number;
}

export const RAW_TABLES = ['temperature', 'cpu', 'load', 'memory', 'storage', 'network', 'diskio', 'inodes', 'pressure', 'nvidia_gpu', 'tegra_gpu', 'power_rails', 'power', 'cpu_frequency', 'cpu_throttle', 'rpi_throttled', 'collector_runs'] as const;
/** One DELETE covers at most this much time of one node: a few hundred rows, a millisecond or two. */
const BATCH_SECONDS = 3600;
/** Tables with no node in their key are deleted from this many rows at a time. */
const BATCH_ROWS = 1000;

const yieldToCollections = () => new Promise((r) => setImmediate(r));

/**
 * Delete what is older than each table's retention (rounds and the detector state of series
 * with no sample as raw samples; closed anomaly episodes by `anomaliesDays`), node by node and an hour at a time, each
 * batch its own short transaction with a yield between: the collector's writes interleave and
 * are never held up by more than one batch.
 */
export async function applyRetention(db: Db, days: RetentionDays, nowUnixSeconds: number): Promise<Record<string, number>> {
  const plan: [string, number][] = [
    ...RAW_TABLES.map((t) => [t, days.rawDays] as [string, number]),
    ['rollup_1m', days.rollup1mDays],
    ['rollup_1h', days.rollup1hDays],
    ['rollup_6h', days.rollup6hDays],
  ];
  const deleted: Record<string, number> = {};
  const nodeIds = (db.prepare('SELECT id FROM nodes').all() as { id: number }[]).map((r) => r.id);
  for (const [table, keepDays] of plan) {
    deleted[table] = 0;
    if (!(keepDays > 0)) continue;
    const cutoff = nowUnixSeconds - keepDays * 86400;
    // Rollup tables lead with (node_id, series) before time: one range per node and series.
    const rollup = table.startsWith('rollup_');
    const key = rollup ? 'node_id = @node AND series = @series' : 'node_id = @node';
    const oldest = db.prepare(`SELECT MIN(time) AS t FROM ${table} WHERE ${key}`);
    const del = db.prepare(`DELETE FROM ${table} WHERE ${key} AND time >= @from AND time < @to`);
    for (const node of nodeIds) {
      for (const series of rollup ? ROLLUP_SERIES.map((r) => r.series) : [undefined]) {
        const first = (oldest.get({ node, series }) as { t: number | null }).t;
        if (first === null) continue;
        for (let from = first; from < cutoff; from += BATCH_SECONDS) {
          deleted[table] += del.run({ node, series, from, to: Math.min(cutoff, from + BATCH_SECONDS) }).changes;
          await yieldToCollections();
        }
      }
    }
  }
  const batched = async (name: string, sql: string, args: Record<string, number>) => {
    deleted[name] = 0;
    const del = db.prepare(sql);
    for (;;) {
      const n = del.run({ ...args, limit: BATCH_ROWS }).changes;
      deleted[name] += n;
      await yieldToCollections();
      if (n < BATCH_ROWS) return;
    }
  };
  if (days.rawDays > 0) {
    const cutoff = nowUnixSeconds - days.rawDays * 86400;
    await batched('rounds', 'DELETE FROM rounds WHERE id IN (SELECT id FROM rounds WHERE time < @cutoff LIMIT @limit)', { cutoff });
    // A series with no sample for longer than raw samples are kept is gone (a veth that
    // vanished, a sensor removed): its detector state would only grow the table. One that
    // comes back starts over, as a new series does.
    await batched(
      'detector_state',
      `DELETE FROM detector_state WHERE (node_id, series, label) IN
         (SELECT node_id, series, label FROM detector_state WHERE cursor_unix_seconds < @cutoff LIMIT @limit)`,
      { cutoff },
    );
  }
  if ((days.anomaliesDays ?? 0) > 0) {
    const cutoff = nowUnixSeconds - days.anomaliesDays! * 86400;
    await batched(
      'anomalies',
      'DELETE FROM anomalies WHERE id IN (SELECT id FROM anomalies WHERE end_unix_seconds IS NOT NULL AND end_unix_seconds < @cutoff LIMIT @limit)',
      { cutoff },
    );
  }
  return deleted;
}
