import type { Db } from './db.js';
import type { SqlDb } from './sql.js';
import { sqliteSql } from './sqliteSql.js';

/** One anomalous episode: consecutive anomalous samples of one series (or one rule's condition), merged. */
export interface AnomalyRow {
  id: number;
  node: string;
  series: string;
  label: string;
  /** The detector's name (`likelihood-v3`) or `rule`. */
  detector: string;
  /** `score` for the detector; the rule's name for rules: `unreachable`, `disk_full`, `temperature_high`. */
  kind: string;
  startUnixSeconds: number;
  /** NULL while the episode is open. */
  endUnixSeconds: number | null;
  lastUnixSeconds: number;
  peakScore: number;
  peakValue: number | null;
  peakUnixSeconds: number;
  samples: number;
  message: string;
}

/** What a detector run writes for one episode: a new one (no id) or an open one extended or closed. */
export type EpisodeWrite = Omit<AnomalyRow, 'id' | 'node'> & { id?: number; nodeId: number };

export interface StoredDetectorState {
  detector: string;
  cursorUnixSeconds: number;
  /** The state, parsed when first asked for (a node's thousands of states are not parsed in one go); undefined when it is not valid JSON. */
  state: () => unknown;
}

export const seriesKey = (series: string, label: string) => `${series}\0${label}`;
export const episodeKey = (series: string, label: string, detector: string, kind: string) => `${series}\0${label}\0${detector}\0${kind}`;

/** The SQL port of a SQLite database or of the port itself: the anomaly and geocode functions take either (SQLite callers hand their Db). */
export function asSql(db: Db | SqlDb): SqlDb {
  return 'dialect' in db ? db : sqliteSql(db);
}

const EPISODE_COLUMNS = `id, node_id AS "nodeId", series, label, detector, kind, start_unix_seconds AS "startUnixSeconds", end_unix_seconds AS "endUnixSeconds",
  last_unix_seconds AS "lastUnixSeconds", peak_score AS "peakScore", peak_value AS "peakValue", peak_unix_seconds AS "peakUnixSeconds", samples, message`;

/** Detector states per upsert: 6 parameters each, well inside SQLite's 32,766 and PostgreSQL's 65,535. */
const STATES_PER_STATEMENT = 200;

/** The anomaly tables (detector_state, anomalies) of one store, on the SQL port: the same statements on SQLite and PostgreSQL. */
export class AnomalyStore {
  readonly sql: SqlDb;

  constructor(db: Db | SqlDb) {
    this.sql = asSql(db);
  }

  /** Each series' stored detector state of one node, keyed by `seriesKey`. A state that is not valid JSON reads as undefined (the series starts over). */
  async detectorStates(nodeId: number): Promise<Map<string, StoredDetectorState>> {
    const out = new Map<string, StoredDetectorState>();
    const rows = await this.sql.all<{ series: string; label: string; detector: string; cursor: number; state_json: string }>(
      'SELECT series, label, detector, cursor_unix_seconds AS cursor, state_json FROM detector_state WHERE node_id = ?',
      [nodeId],
    );
    for (const r of rows) {
      const state = () => {
        try {
          return JSON.parse(r.state_json) as unknown;
        } catch {
          return undefined;
        }
      };
      out.set(seriesKey(r.series, r.label), { detector: r.detector, cursorUnixSeconds: r.cursor, state });
    }
    return out;
  }

  /** The node's open episodes, keyed by `episodeKey`. */
  async openEpisodes(nodeId: number): Promise<Map<string, EpisodeWrite>> {
    const rows = await this.sql.all<EpisodeWrite & { id: number }>(`SELECT ${EPISODE_COLUMNS} FROM anomalies WHERE node_id = ? AND end_unix_seconds IS NULL`, [nodeId]);
    return new Map(rows.map((r) => [episodeKey(r.series, r.label, r.detector, r.kind), r]));
  }

  /**
   * Detector states and episodes of one node in one transaction: both land, or neither. A state
   * may come serialized already (`stateJson`), so that the caller can spread that work out. A new
   * episode gets its id (RETURNING: PostgreSQL has no rowid to ask for).
   */
  async save(nodeId: number, states: readonly ({ series: string; label: string; detector: string; cursorUnixSeconds: number } & ({ state: unknown } | { stateJson: string }))[], episodes: readonly EpisodeWrite[]): Promise<void> {
    const ids: [EpisodeWrite, number][] = [];
    await this.sql.tx(async (tx) => {
      // The states in multi-row upserts (a node has dozens of series: one round trip per chunk, not per series).
      for (let i = 0; i < states.length; i += STATES_PER_STATEMENT) {
        const chunk = states.slice(i, i + STATES_PER_STATEMENT);
        await tx.run(
          `INSERT INTO detector_state (node_id, series, label, detector, cursor_unix_seconds, state_json) VALUES ${chunk.map(() => '(?, ?, ?, ?, ?, ?)').join(', ')}
           ON CONFLICT (node_id, series, label) DO UPDATE SET detector = excluded.detector, cursor_unix_seconds = excluded.cursor_unix_seconds, state_json = excluded.state_json`,
          chunk.flatMap((s) => [nodeId, s.series, s.label, s.detector, s.cursorUnixSeconds, 'stateJson' in s ? s.stateJson : JSON.stringify(s.state)]),
        );
      }
      for (const e of episodes) {
        const at = [e.endUnixSeconds, e.lastUnixSeconds, e.peakScore, e.peakValue, e.peakUnixSeconds, e.samples, e.message];
        if (e.id === undefined) {
          const r = await tx.get<{ id: number }>(
            `INSERT INTO anomalies (node_id, series, label, detector, kind, start_unix_seconds, end_unix_seconds, last_unix_seconds, peak_score, peak_value, peak_unix_seconds, samples, message)
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id`,
            [e.nodeId, e.series, e.label, e.detector, e.kind, e.startUnixSeconds, ...at],
          );
          ids.push([e, r!.id]);
        } else {
          await tx.run(
            `UPDATE anomalies SET end_unix_seconds = ?, last_unix_seconds = ?, peak_score = ?, peak_value = ?, peak_unix_seconds = ?, samples = ?, message = ? WHERE id = ?`,
            [...at, e.id],
          );
        }
      }
    });
    // Only once committed: a rolled-back insert has no id to update next time.
    for (const [e, id] of ids) e.id = id;
  }
}

const stores = new WeakMap<object, AnomalyStore>();
export function anomalyStore(db: Db | SqlDb): AnomalyStore {
  const sql = asSql(db);
  let s = stores.get(sql);
  if (!s) stores.set(sql, (s = new AnomalyStore(sql)));
  return s;
}

/** One page of readSamplesPage: each row `[time, label, value…]`. */
export interface SamplesPage {
  rows: unknown[][];
  throughUnixSeconds: number;
  last: boolean;
}

/**
 * New raw samples of one node in one table, after `afterUnixSeconds`, in time order: one range
 * seek on the table's (node_id, time, …) key (on PostgreSQL a partitioned table is read through
 * the partitions the range reaches, in order). `columns` are SQL expressions over the table's
 * columns (the label first, then one value per series). At most about `limit` rows: a page ends before its last second, unless
 * that second is all it holds (one round's rows of one node, bounded by collect.maxSeriesPerNode),
 * so a second is never split. `throughUnixSeconds`: where the next page starts after; `last`:
 * nothing more until `untilUnixSeconds`.
 */
export async function readSamplesPage(db: Db | SqlDb, table: string, columns: readonly string[], nodeId: number, afterUnixSeconds: number, untilUnixSeconds: number, limit: number): Promise<SamplesPage> {
  const sql = asSql(db);
  const names = ['time', ...columns.map((_, i) => `c${i}`)];
  const cols = `time, ${columns.map((c, i) => `${c} AS c${i}`).join(', ')}`;
  const arrays = (rows: Record<string, unknown>[]) => rows.map((r) => names.map((n) => r[n]));
  const rows = arrays(await sql.all(`SELECT ${cols} FROM ${table} WHERE node_id = ? AND time > ? AND time <= ? ORDER BY time LIMIT ?`, [nodeId, afterUnixSeconds, untilUnixSeconds, limit]));
  if (rows.length < limit) return { rows, throughUnixSeconds: untilUnixSeconds, last: true };
  const lastTime = rows[rows.length - 1]![0] as number;
  let keep = rows.length;
  while (keep > 0 && rows[keep - 1]![0] === lastTime) keep--;
  if (keep > 0) return { rows: rows.slice(0, keep), throughUnixSeconds: rows[keep - 1]![0] as number, last: false };
  const whole = arrays(await sql.all(`SELECT ${cols} FROM ${table} WHERE node_id = ? AND time = ?`, [nodeId, lastTime]));
  return { rows: whole, throughUnixSeconds: lastTime, last: lastTime >= untilUnixSeconds };
}

export interface AnomalyFilter {
  sinceUnixSeconds?: number;
  node?: string;
  /** Only open episodes. */
  open?: boolean;
  limit?: number;
}

/** Episodes that were open at or after `sinceUnixSeconds` (open ones always), newest first. */
export async function listAnomalies(db: Db | SqlDb, f: AnomalyFilter = {}): Promise<AnomalyRow[]> {
  const where: string[] = [];
  const args: (string | number)[] = [];
  if (f.sinceUnixSeconds !== undefined) {
    where.push('(a.end_unix_seconds IS NULL OR a.last_unix_seconds >= ?)');
    args.push(f.sinceUnixSeconds);
  }
  if (f.node !== undefined) {
    where.push('n.name = ?');
    args.push(f.node);
  }
  if (f.open) where.push('a.end_unix_seconds IS NULL');
  const sql = `SELECT a.id, n.name AS node, a.series, a.label, a.detector, a.kind, a.start_unix_seconds AS "startUnixSeconds", a.end_unix_seconds AS "endUnixSeconds",
      a.last_unix_seconds AS "lastUnixSeconds", a.peak_score AS "peakScore", a.peak_value AS "peakValue", a.peak_unix_seconds AS "peakUnixSeconds", a.samples, a.message
    FROM anomalies a JOIN nodes n ON n.id = a.node_id ${where.length ? 'WHERE ' + where.join(' AND ') : ''}
    ORDER BY a.start_unix_seconds DESC, a.id DESC LIMIT ?`;
  return asSql(db).all<AnomalyRow>(sql, [...args, Math.max(1, Math.min(f.limit ?? 1000, 10000))]);
}
