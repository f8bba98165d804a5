import { hash } from 'node:crypto';
import { Sha1AfterPrefix } from './sha1.js';
import type { InferenceRecord, InferenceSource } from '../domain/index.js';
import type { Db } from './db.js';
import { placeholders, type SqlDb, type SqlParam } from './sql.js';

/** One inference to store (table inference; docs/schema.md). */
export interface InferenceWrite {
  nodeId: number;
  deploymentId: string | null;
  model: string;
  tag: string;
  timeUnixMs: number;
  record: InferenceRecord;
  source: InferenceSource;
  /** Unique per line ever read (see lineKey): a second write of the same key is dropped. */
  lineKey: bigint;
}

/**
 * 64 bits of SHA-1 over the parts that make a line unique, each followed by a NUL, as a signed
 * integer (SQLite's). For a log line: container id, the engine's nanosecond timestamp and the
 * line's occurrence among the lines with that timestamp — so two byte-identical lines in the
 * same nanosecond still count twice, and the same line read again maps to the same key.
 */
export function lineKey(...parts: (string | number | bigint)[]): bigint {
  return hash('sha1', `${parts.join('\0')}\0`, 'buffer').readBigInt64BE(0);
}

/**
 * lineKey(containerId, timeUnixNs, occurrence) of one container's log lines, a million times
 * over in a backlog: the container id is hashed once (sha1.ts), each line only its own part.
 */
export class LogLineKeys {
  private readonly sha: Sha1AfterPrefix;
  constructor(containerId: string) {
    this.sha = new Sha1AfterPrefix(`${containerId}\0`);
  }
  /** `timeText`: the timestamp as text, then `\0` (kept by the caller across lines of one time). */
  key(timeText: string, occurrence: number): bigint {
    return this.sha.first64(`${timeText}${occurrence}\0`);
  }
}

/** Where a container's log has been read up to. */
export interface InferenceCursor {
  /** The engine's timestamp of the last line taken, nanoseconds; 0n: nothing read yet. */
  logTimeUnixNs: bigint;
  /** How many lines with exactly that timestamp were taken (the next read skips as many). */
  linesAtTime: number;
}

export interface CursorKey {
  deploymentId: string;
  nodeId: number;
  containerId: string;
}

export interface LogBatchCounts {
  linesRead: number;
  inferences: number;
  ignored: number;
  invalid: number;
  lastInvalid?: string;
}

const COLUMNS = `node_id, deployment_id, model, tag, time, time_unix_ms, latency_ms, preprocess_ms, infer_ms, postprocess_ms, batch, input_id, label, score, expected, error, source, line_key`;
/** One row's values: what is the same for a whole log batch is named and bound once per statement. */
const ROW = `(@nodeId, @deploymentId, @model, @tag, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, @source, ?)`;
const PARAMS_PER_ROW = 13;
/**
 * Rows per INSERT: one statement step per 100 rows instead of per row (a log window holds
 * thousands). 1,300 parameters, well under SQLite's 32,766.
 */
const ROWS_PER_INSERT = 100;

/** What ROW names: the same for every row of one container's log. */
const shared = (w: InferenceWrite) => ({ nodeId: w.nodeId, deploymentId: w.deploymentId, model: w.model, tag: w.tag, source: w.source });
const sameShared = (a: InferenceWrite, b: InferenceWrite) => a.nodeId === b.nodeId && a.deploymentId === b.deploymentId && a.model === b.model && a.tag === b.tag && a.source === b.source;

/** w's other values into `p` from `o` on, in ROW's order. */
function bindInto(p: unknown[], o: number, w: InferenceWrite): void {
  const r = w.record;
  p[o] = Math.floor(w.timeUnixMs / 1000);
  p[o + 1] = w.timeUnixMs;
  p[o + 2] = r.latencyMs ?? null;
  p[o + 3] = r.preprocessMs ?? null;
  p[o + 4] = r.inferMs ?? null;
  p[o + 5] = r.postprocessMs ?? null;
  p[o + 6] = r.batch;
  p[o + 7] = r.inputId ?? null;
  p[o + 8] = r.label ?? null;
  p[o + 9] = r.score ?? null;
  p[o + 10] = r.expected ?? null;
  p[o + 11] = r.error ?? null;
  p[o + 12] = w.lineKey;
}

/** The inference tables' statements, prepared once per database. */
export function inferenceStore(db: Db) {
  const insertOne = db.prepare(`INSERT OR IGNORE INTO inference (${COLUMNS}) VALUES ${ROW}`);
  const insertMany = db.prepare(`INSERT OR IGNORE INTO inference (${COLUMNS}) VALUES ${Array(ROWS_PER_INSERT).fill(ROW).join(', ')}`);
  // Reused by every statement: filled, bound and run synchronously.
  const many: unknown[] = new Array(ROWS_PER_INSERT * PARAMS_PER_ROW);
  const one: unknown[] = new Array(PARAMS_PER_ROW);
  const getCursor = db.prepare(`SELECT log_time_unix_ns AS ns, lines_at_time AS n FROM inference_cursors WHERE deployment_id = ? AND node_id = ? AND container_id = ?`).safeIntegers(true);
  // Forward only (as inferenceRows.ts on PostgreSQL): a reader behind another cannot set it back.
  const putCursor = db.prepare(
    `INSERT INTO inference_cursors (deployment_id, node_id, container_id, log_time_unix_ns, lines_at_time, lines_read, inferences, ignored_lines, invalid_lines, last_invalid, updated_unix_seconds)
     VALUES (@deploymentId, @nodeId, @containerId, @ns, @n, @linesRead, @inferences, @ignored, @invalid, @lastInvalid, @now)
     ON CONFLICT (deployment_id, node_id, container_id) DO UPDATE SET
       log_time_unix_ns = excluded.log_time_unix_ns, lines_at_time = excluded.lines_at_time,
       lines_read = lines_read + excluded.lines_read, inferences = inferences + excluded.inferences,
       ignored_lines = ignored_lines + excluded.ignored_lines, invalid_lines = invalid_lines + excluded.invalid_lines,
       last_invalid = COALESCE(excluded.last_invalid, last_invalid), updated_unix_seconds = excluded.updated_unix_seconds
     WHERE excluded.log_time_unix_ns > log_time_unix_ns OR (excluded.log_time_unix_ns = log_time_unix_ns AND excluded.lines_at_time >= lines_at_time)`,
  );

  /** Rows in their order (ids grow with it); how many were new (INSERT OR IGNORE skips a known line_key). */
  const insertAll = (rows: readonly InferenceWrite[]) => {
    let inserted = 0;
    let i = 0;
    while (i < rows.length) {
      const first = rows[i]!;
      let k = 1;
      while (k < ROWS_PER_INSERT && i + k < rows.length && sameShared(first, rows[i + k]!)) k++;
      if (k === ROWS_PER_INSERT) {
        for (let j = 0; j < k; j++) bindInto(many, j * PARAMS_PER_ROW, rows[i + j]!);
        inserted += insertMany.run(many, shared(first)).changes;
      } else {
        // A short run (a batch's tail, or rows of different nodes or models): row by row.
        for (let j = 0; j < k; j++) {
          bindInto(one, 0, rows[i + j]!);
          inserted += insertOne.run(one, shared(rows[i + j]!)).changes;
        }
      }
      i += k;
    }
    return inserted;
  };

  return {
    cursor(k: CursorKey): InferenceCursor {
      const r = getCursor.get(k.deploymentId, k.nodeId, k.containerId) as { ns: bigint; n: bigint } | undefined;
      return r ? { logTimeUnixNs: r.ns, linesAtTime: Number(r.n) } : { logTimeUnixNs: 0n, linesAtTime: 0 };
    },

    /**
     * The rows read from one container's log and the cursor after them, in one transaction: a
     * crash before the commit leaves both as they were (the lines are read again), after it both
     * are there. Returns how many rows were new.
     */
    commitLogBatch(k: CursorKey, cursor: InferenceCursor, rows: readonly InferenceWrite[], counts: LogBatchCounts, nowUnixSeconds: number): number {
      return db.transaction(() => {
        const inserted = insertAll(rows);
        putCursor.run({
          ...k,
          ns: cursor.logTimeUnixNs,
          n: cursor.linesAtTime,
          linesRead: counts.linesRead,
          inferences: inserted,
          ignored: counts.ignored,
          invalid: counts.invalid,
          lastInvalid: counts.lastInvalid ?? null,
          now: nowUnixSeconds,
        });
        return inserted;
      }).immediate();
    },

    /** Pushed rows: stored in one transaction; returns how many were new (the rest were pushed before). */
    insert(rows: readonly InferenceWrite[]): number {
      return db.transaction(() => insertAll(rows)).immediate();
    },
  };
}

/** Filters of the stats: a time window and optionally one model (`name` or `name:tag`) and node. */
export interface InferenceFilter {
  fromUnixSeconds: number;
  toUnixSeconds: number;
  model?: string;
  tag?: string;
  node?: string;
}

/** One model × tag × node of the window, aggregated by SQLite: one row per group reaches JavaScript, never the inferences. */
export interface InferenceGroupRow {
  model: string;
  tag: string;
  node: string;
  nodeId: number;
  count: number;
  samples: number;
  firstUnixMs: number;
  lastUnixMs: number;
  /** The batch of the first inference (left out of samples per second). */
  firstBatch: number;
  errors: number;
  withExpected: number;
  correct: number;
  /** Over inferences without an error that gave latency_ms; null when none did. */
  latencyCount: number;
  latencyMin: number | null;
  latencyMax: number | null;
  latencyMean: number | null;
  /** Nearest rank (sorted[ceil(p/100 · n) − 1]), picked by ROW_NUMBER over the sorted latencies. */
  p50: number | null;
  p90: number | null;
  p95: number | null;
  p99: number | null;
  /** JSON `[[deploymentId, lastUnixMs], …]`. */
  deploymentsJson: string;
}

/**
 * The stats of every group of the window in SQL (GET /inference/stats), the same text on both
 * stores (the SQL port): counts and sums by GROUP BY, percentiles by a window function, so memory
 * holds a row per group whatever the window holds (the database sorts the latencies itself,
 * spilling to its temp store when large). The deployments of each group come in a second query,
 * one row per group and deployment.
 */
export async function inferenceGroupRows(sql: SqlDb, f: InferenceFilter): Promise<InferenceGroupRow[]> {
  const where = ['i.time >= ?', 'i.time <= ?'];
  const params: SqlParam[] = [f.fromUnixSeconds, f.toUnixSeconds];
  if (f.model !== undefined) {
    where.push('i.model = ?');
    params.push(f.model);
  }
  if (f.tag !== undefined) {
    where.push('i.tag = ?');
    params.push(f.tag);
  }
  // The node_id IN (…) lets the database seek each node's (node_id, time) range.
  const nodes = f.node !== undefined ? 'SELECT id FROM nodes WHERE name = ?' : 'SELECT id FROM nodes';
  const wParams = f.node !== undefined ? [f.node, ...params] : params;
  const w = `FROM inference i WHERE i.node_id IN (${nodes}) AND ${where.join(' AND ')}`;
  const ok = 'i.error IS NULL';
  const count = (cond: string) => `SUM(CASE WHEN ${cond} THEN 1 ELSE 0 END)`;
  const pick = (p: number) => `MAX(CASE WHEN rn = (${p} * n + 99) / 100 THEN latency_ms END) AS p${p}`;
  const groups = await sql.all<Omit<InferenceGroupRow, 'deploymentsJson'>>(
    `WITH g AS (
       SELECT i.model, i.tag, i.node_id, COUNT(*) AS count, SUM(i.batch) AS samples, MIN(i.time_unix_ms) AS first_ms, MAX(i.time_unix_ms) AS last_ms,
              ${count('i.error IS NOT NULL')} AS errors, ${count(`${ok} AND i.expected IS NOT NULL`)} AS with_expected,
              ${count(`${ok} AND i.expected IS NOT NULL AND i.label = i.expected`)} AS correct,
              COUNT(CASE WHEN ${ok} THEN i.latency_ms END) AS latency_count, MIN(CASE WHEN ${ok} THEN i.latency_ms END) AS latency_min,
              MAX(CASE WHEN ${ok} THEN i.latency_ms END) AS latency_max, AVG(CASE WHEN ${ok} THEN i.latency_ms END) AS latency_mean
       ${w} GROUP BY i.model, i.tag, i.node_id),
     l AS (
       SELECT i.model, i.tag, i.node_id, i.latency_ms, ROW_NUMBER() OVER (PARTITION BY i.model, i.tag, i.node_id ORDER BY i.latency_ms) AS rn,
              COUNT(*) OVER (PARTITION BY i.model, i.tag, i.node_id) AS n
       ${w} AND ${ok} AND i.latency_ms IS NOT NULL),
     p AS (SELECT model, tag, node_id, ${[50, 90, 95, 99].map(pick).join(', ')} FROM l GROUP BY model, tag, node_id)
     SELECT g.model, g.tag, n.name AS node, g.node_id AS "nodeId", g.count, g.samples, g.first_ms AS "firstUnixMs", g.last_ms AS "lastUnixMs",
            (SELECT i.batch FROM inference i WHERE i.node_id = g.node_id AND i.model = g.model AND i.tag = g.tag AND i.time_unix_ms = g.first_ms ORDER BY i.id DESC LIMIT 1) AS "firstBatch",
            g.errors, g.with_expected AS "withExpected", g.correct, g.latency_count AS "latencyCount", g.latency_min AS "latencyMin", g.latency_max AS "latencyMax",
            g.latency_mean AS "latencyMean", p.p50, p.p90, p.p95, p.p99
     FROM g JOIN nodes n ON n.id = g.node_id
     LEFT JOIN p ON p.model = g.model AND p.tag = g.tag AND p.node_id = g.node_id`,
    [...wParams, ...wParams],
  );
  const deployments = await sql.all<{ model: string; tag: string; nodeId: number; id: string; last: number }>(
    `SELECT i.model, i.tag, i.node_id AS "nodeId", i.deployment_id AS id, MAX(i.time_unix_ms) AS last ${w} AND i.deployment_id IS NOT NULL
     GROUP BY i.model, i.tag, i.node_id, i.deployment_id ORDER BY i.deployment_id`,
    wParams,
  );
  const of = new Map<string, [string, number][]>();
  for (const d of deployments) {
    const k = `${d.model}\0${d.tag}\0${d.nodeId}`;
    of.set(k, [...(of.get(k) ?? []), [d.id, d.last]]);
  }
  return groups.map((g) => ({ ...g, deploymentsJson: JSON.stringify(of.get(`${g.model}\0${g.tag}\0${g.nodeId}`) ?? []) }));
}

/** A node's mean temperature (every sensor) and CPU usage (all CPUs) over a window; null when nothing was collected. */
export async function nodeConditions(sql: SqlDb, nodeId: number, fromUnixSeconds: number, toUnixSeconds: number): Promise<{ temperatureCelsius: number | null; cpuUsagePercent: number | null }> {
  const t = await sql.get<{ v: number | null }>('SELECT AVG(celsius) AS v FROM temperature WHERE node_id = ? AND time >= ? AND time <= ?', [nodeId, fromUnixSeconds, toUnixSeconds]);
  const c = await sql.get<{ v: number | null }>(`SELECT AVG(usage_percent) AS v FROM cpu WHERE node_id = ? AND time >= ? AND time <= ? AND cpu = 'all'`, [nodeId, fromUnixSeconds, toUnixSeconds]);
  return { temperatureCelsius: t?.v ?? null, cpuUsagePercent: c?.v ?? null };
}

/**
 * Cold start of one deployment on one node: from the request (the node's `queued` event) to the
 * first inference ever stored for it, milliseconds; undefined if either is missing.
 */
export async function coldStartMs(sql: SqlDb, deploymentId: string, node: string, nodeId: number): Promise<number | undefined> {
  const q = await sql.get<{ t: number | null }>(`SELECT MIN(time_unix_ms) AS t FROM deployment_events WHERE deployment_id = ? AND node = ? AND state = 'queued'`, [deploymentId, node]);
  const f = await sql.get<{ t: number | null }>('SELECT MIN(time_unix_ms) AS t FROM inference WHERE deployment_id = ? AND node_id = ?', [deploymentId, nodeId]);
  // Podman's Docker-compatible API stamps log lines to the whole second (Docker to the
  // nanosecond): a first line in the request's own second can look earlier than the request.
  // Cold start is then accurate to a second, and never below 0.
  return q?.t != null && f?.t != null ? Math.max(0, f.t - q.t) : undefined;
}

/** Lines of the deployments' logs that were not inferences: ignored (not the protocol) and invalid (a bad field). */
export async function logLineCounts(sql: SqlDb, deploymentIds: readonly string[], nodeId: number): Promise<{ linesRead: number; ignored: number; invalid: number; lastInvalid: string | null }> {
  if (deploymentIds.length === 0) return { linesRead: 0, ignored: 0, invalid: 0, lastInvalid: null };
  const ids = placeholders(deploymentIds.length);
  const r = await sql.get<{ linesRead: number; ignored: number; invalid: number }>(
    `SELECT COALESCE(SUM(lines_read), 0) AS "linesRead", COALESCE(SUM(ignored_lines), 0) AS ignored, COALESCE(SUM(invalid_lines), 0) AS invalid
     FROM inference_cursors WHERE node_id = ? AND deployment_id IN (${ids})`,
    [nodeId, ...deploymentIds],
  );
  const last = await sql.get<{ v: string }>(
    `SELECT last_invalid AS v FROM inference_cursors WHERE node_id = ? AND deployment_id IN (${ids}) AND last_invalid IS NOT NULL ORDER BY updated_unix_seconds DESC LIMIT 1`,
    [nodeId, ...deploymentIds],
  );
  return { linesRead: r!.linesRead, ignored: r!.ignored, invalid: r!.invalid, lastInvalid: last?.v ?? null };
}
