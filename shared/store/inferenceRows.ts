/**
 * The inference writes of the log drain and the push path on either store, async:
 * - SQLite: inference.ts inferenceStore, as it was (prepared 100-row INSERTs with the batch's
 *   shared fields bound once, one IMMEDIATE transaction per commit), run when no SQL-port
 *   transaction of another caller is open (sqliteSql.ts exclusive). Nothing else per row: the
 *   drain's speed is this path's (npm run bench:backlog).
 * - PostgreSQL: multi-row INSERTs through the SQL port, `ON CONFLICT (line_key, time) DO NOTHING`
 *   for the line-key dedup, rows and cursor in one transaction; the day partitions the rows
 *   reach are made first (pgPartitions.ts), outside it.
 */
import { inferenceStore, type CursorKey, type InferenceCursor, type InferenceWrite, type LogBatchCounts } from './inference.js';
import { ensurePartitions, dayOf } from './pgPartitions.js';
import type { PgStore } from './pgStore.js';
import type { SqlDb, SqlParam } from './sql.js';
import { exclusive } from './sqliteSql.js';
import type { Store } from './store.js';

export interface InferenceRows {
  cursor(k: CursorKey): Promise<InferenceCursor>;
  /**
   * The rows read from one container's log and the cursor after them, in one transaction: a
   * crash before the commit leaves both as they were (the lines are read again), after it both
   * are there. Returns how many rows were new.
   */
  commitLogBatch(k: CursorKey, cursor: InferenceCursor, rows: readonly InferenceWrite[], counts: LogBatchCounts, nowUnixSeconds: number): Promise<number>;
  /** Pushed rows in one transaction; how many were new (the rest were stored before). */
  insert(rows: readonly InferenceWrite[]): Promise<number>;
}

/** The inference writes of `store` (one per call: the SQLite side prepares its statements here). */
export function inferenceRows(store: Store): InferenceRows {
  const db = store.sqlite;
  if (!db) return new PgInferenceRows(store as PgStore);
  const s = inferenceStore(db);
  return {
    cursor: async (k) => s.cursor(k),
    commitLogBatch: (k, cursor, rows, counts, now) => exclusive(db, () => s.commitLogBatch(k, cursor, rows, counts, now)),
    insert: (rows) => exclusive(db, () => s.insert(rows)),
  };
}

const COLUMNS = 'node_id, deployment_id, model, tag, time, time_unix_ms, latency_ms, preprocess_ms, infer_ms, postprocess_ms, batch, input_id, label, score, expected, error, source, line_key';
const PARAMS_PER_ROW = 18;
const ROW = `(${Array(PARAMS_PER_ROW).fill('?').join(', ')})`;
/**
 * Rows per INSERT, largest first: 500 rows is 9,000 parameters of PostgreSQL's 65,535, one round
 * trip per 500 rows; a batch's tail goes in the smaller sizes, so the statement texts are five
 * (each translated and parsed once), not one per tail length.
 */
const INSERT_SIZES = [500, 125, 25, 5, 1];
const INSERTS = new Map(INSERT_SIZES.map((n) => [n, `INSERT INTO inference (${COLUMNS}) VALUES ${Array(n).fill(ROW).join(', ')} ON CONFLICT (line_key, time) DO NOTHING`]));

/**
 * The cursor only moves forward: two readers of one log (hubs whose shards overlap for a round)
 * cannot set it back, and the behind one's rows were all known (line keys), so its counts go too.
 */
const PUT_CURSOR = `INSERT INTO inference_cursors (deployment_id, node_id, container_id, log_time_unix_ns, lines_at_time, lines_read, inferences, ignored_lines, invalid_lines, last_invalid, updated_unix_seconds)
  VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
  ON CONFLICT (deployment_id, node_id, container_id) DO UPDATE SET
    log_time_unix_ns = excluded.log_time_unix_ns, lines_at_time = excluded.lines_at_time,
    lines_read = inference_cursors.lines_read + excluded.lines_read, inferences = inference_cursors.inferences + excluded.inferences,
    ignored_lines = inference_cursors.ignored_lines + excluded.ignored_lines, invalid_lines = inference_cursors.invalid_lines + excluded.invalid_lines,
    last_invalid = COALESCE(excluded.last_invalid, inference_cursors.last_invalid), updated_unix_seconds = excluded.updated_unix_seconds
  WHERE excluded.log_time_unix_ns > inference_cursors.log_time_unix_ns
     OR (excluded.log_time_unix_ns = inference_cursors.log_time_unix_ns AND excluded.lines_at_time >= inference_cursors.lines_at_time)`;

function bindRow(p: SqlParam[], w: InferenceWrite): void {
  const r = w.record;
  p.push(
    w.nodeId, w.deploymentId, w.model, w.tag, Math.floor(w.timeUnixMs / 1000), w.timeUnixMs, r.latencyMs ?? null, r.preprocessMs ?? null, r.inferMs ?? null,
    r.postprocessMs ?? null, r.batch, r.inputId ?? null, r.label ?? null, r.score ?? null, r.expected ?? null, r.error ?? null, w.source, w.lineKey,
  );
}

class PgInferenceRows implements InferenceRows {
  constructor(readonly store: PgStore) {}

  async cursor(k: CursorKey): Promise<InferenceCursor> {
    // Nanoseconds pass 2^53: read as text, not through the driver's int8-as-number.
    const r = await this.store.sql.get<{ ns: string; n: number }>(
      'SELECT CAST(log_time_unix_ns AS TEXT) AS ns, lines_at_time AS n FROM inference_cursors WHERE deployment_id = ? AND node_id = ? AND container_id = ?',
      [k.deploymentId, k.nodeId, k.containerId],
    );
    return r ? { logTimeUnixNs: BigInt(r.ns), linesAtTime: r.n } : { logTimeUnixNs: 0n, linesAtTime: 0 };
  }

  async commitLogBatch(k: CursorKey, cursor: InferenceCursor, rows: readonly InferenceWrite[], counts: LogBatchCounts, nowUnixSeconds: number): Promise<number> {
    await this.#partitionsFor(rows);
    return this.store.sql.tx(async (sql) => {
      const inserted = await insertAll(sql, rows);
      await sql.run(PUT_CURSOR, [
        k.deploymentId, k.nodeId, k.containerId, cursor.logTimeUnixNs, cursor.linesAtTime, counts.linesRead, inserted, counts.ignored, counts.invalid, counts.lastInvalid ?? null, nowUnixSeconds,
      ]);
      return inserted;
    });
  }

  async insert(rows: readonly InferenceWrite[]): Promise<number> {
    await this.#partitionsFor(rows);
    return this.store.sql.tx((sql) => insertAll(sql, rows));
  }

  /**
   * The partition of each day the rows fall on (usually one or two; the cache makes it free).
   * Day by day, not from the first to the last: a model's clock gone wrong in one line must not
   * make years of partitions.
   */
  async #partitionsFor(rows: readonly InferenceWrite[]): Promise<void> {
    const days = new Set<number>();
    for (const w of rows) days.add(dayOf(Math.floor(w.timeUnixMs / 1000)));
    for (const d of days) await ensurePartitions(this.store.pg, d, d);
  }
}

/** Multi-row INSERTs (INSERT_SIZES); how many rows were new. */
async function insertAll(sql: SqlDb, rows: readonly InferenceWrite[]): Promise<number> {
  let inserted = 0;
  let i = 0;
  for (const n of INSERT_SIZES) {
    for (; rows.length - i >= n; i += n) {
      const params: SqlParam[] = [];
      for (let j = i; j < i + n; j++) bindRow(params, rows[j]!);
      inserted += (await sql.run(INSERTS.get(n)!, params)).changes;
    }
  }
  return inserted;
}
