import type { Db } from './db.js';

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

/** Prepared statements of the anomaly tables, made once per connection. */
export class AnomalyStore {
  readonly #s;

  constructor(private readonly db: Db) {
    const p = (sql: string) => db.prepare(sql);
    this.#s = {
      states: p('SELECT series, label, detector, cursor_unix_seconds AS cursor, state_json FROM detector_state WHERE node_id = ?'),
      saveState: p(
        `INSERT INTO detector_state (node_id, series, label, detector, cursor_unix_seconds, state_json) VALUES (?, ?, ?, ?, ?, ?)
         ON CONFLICT (node_id, series, label) DO UPDATE SET detector = excluded.detector, cursor_unix_seconds = excluded.cursor_unix_seconds, state_json = excluded.state_json`,
      ),
      open: p(
        `SELECT id, node_id AS nodeId, series, label, detector, kind, start_unix_seconds AS startUnixSeconds, end_unix_seconds AS endUnixSeconds,
           last_unix_seconds AS lastUnixSeconds, peak_score AS peakScore, peak_value AS peakValue, peak_unix_seconds AS peakUnixSeconds, samples, message
         FROM anomalies WHERE node_id = ? AND end_unix_seconds IS NULL`,
      ),
      insert: p(
        `INSERT INTO anomalies (node_id, series, label, detector, kind, start_unix_seconds, end_unix_seconds, last_unix_seconds, peak_score, peak_value, peak_unix_seconds, samples, message)
         VALUES (@nodeId, @series, @label, @detector, @kind, @startUnixSeconds, @endUnixSeconds, @lastUnixSeconds, @peakScore, @peakValue, @peakUnixSeconds, @samples, @message)`,
      ),
      update: p(
        `UPDATE anomalies SET end_unix_seconds = @endUnixSeconds, last_unix_seconds = @lastUnixSeconds, peak_score = @peakScore, peak_value = @peakValue,
           peak_unix_seconds = @peakUnixSeconds, samples = @samples, message = @message WHERE id = @id`,
      ),
    };
  }

  /** Each series' stored detector state of one node, keyed by `seriesKey`. A state that is not valid JSON reads as undefined (the series starts over). */
  detectorStates(nodeId: number): Map<string, StoredDetectorState> {
    const out = new Map<string, StoredDetectorState>();
    for (const r of this.#s.states.all(nodeId) as { series: string; label: string; detector: string; cursor: number; state_json: string }[]) {
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
  openEpisodes(nodeId: number): Map<string, EpisodeWrite> {
    const rows = this.#s.open.all(nodeId) as (EpisodeWrite & { id: number })[];
    return new Map(rows.map((r) => [episodeKey(r.series, r.label, r.detector, r.kind), r]));
  }

  /**
   * Detector states and episodes of one node in one transaction: both land, or neither. A state
   * may come serialized already (`stateJson`), so that the caller can spread that work out.
   */
  save(nodeId: number, states: readonly ({ series: string; label: string; detector: string; cursorUnixSeconds: number } & ({ state: unknown } | { stateJson: string }))[], episodes: readonly EpisodeWrite[]): void {
    this.db.transaction(() => {
      for (const s of states) this.#s.saveState.run(nodeId, s.series, s.label, s.detector, s.cursorUnixSeconds, 'stateJson' in s ? s.stateJson : JSON.stringify(s.state));
      for (const e of episodes) {
        if (e.id === undefined) e.id = Number(this.#s.insert.run({ ...e, id: undefined }).lastInsertRowid);
        else this.#s.update.run(e);
      }
    }).immediate();
  }
}

const stores = new WeakMap<Db, AnomalyStore>();
export function anomalyStore(db: Db): AnomalyStore {
  let s = stores.get(db);
  if (!s) stores.set(db, (s = new AnomalyStore(db)));
  return s;
}

/**
 * New raw samples of one node in one table, after `afterUnixSeconds`, in time order: one range
 * seek on the table's (node_id, time, …) key. `columns` are SQL expressions over the table's
 * columns (the label first, then one value per series). At most about `limit` rows: a page ends before its last second, unless
 * that second is all it holds (one round's rows of one node, bounded by collect.maxSeriesPerNode),
 * so a second is never split. `throughUnixSeconds`: where the next page starts after; `last`:
 * nothing more until `untilUnixSeconds`.
 */
export function readSamplesPage(db: Db, table: string, columns: readonly string[], nodeId: number, afterUnixSeconds: number, untilUnixSeconds: number, limit: number): { rows: unknown[][]; throughUnixSeconds: number; last: boolean } {
  const cols = `time, ${columns.map((c, i) => `${c} AS c${i}`).join(', ')}`;
  const rows = db
    .prepare(`SELECT ${cols} FROM ${table} WHERE node_id = ? AND time > ? AND time <= ? ORDER BY time LIMIT ?`)
    .raw(true)
    .all(nodeId, afterUnixSeconds, untilUnixSeconds, limit) as unknown[][];
  if (rows.length < limit) return { rows, throughUnixSeconds: untilUnixSeconds, last: true };
  const lastTime = rows[rows.length - 1]![0] as number;
  let keep = rows.length;
  while (keep > 0 && rows[keep - 1]![0] === lastTime) keep--;
  if (keep > 0) return { rows: rows.slice(0, keep), throughUnixSeconds: rows[keep - 1]![0] as number, last: false };
  const whole = db.prepare(`SELECT ${cols} FROM ${table} WHERE node_id = ? AND time = ?`).raw(true).all(nodeId, lastTime) as unknown[][];
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
export function listAnomalies(db: Db, f: AnomalyFilter = {}): AnomalyRow[] {
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
  const sql = `SELECT a.id, n.name AS node, a.series, a.label, a.detector, a.kind, a.start_unix_seconds AS startUnixSeconds, a.end_unix_seconds AS endUnixSeconds,
      a.last_unix_seconds AS lastUnixSeconds, a.peak_score AS peakScore, a.peak_value AS peakValue, a.peak_unix_seconds AS peakUnixSeconds, a.samples, a.message
    FROM anomalies a JOIN nodes n ON n.id = a.node_id ${where.length ? 'WHERE ' + where.join(' AND ') : ''}
    ORDER BY a.start_unix_seconds DESC, a.id DESC LIMIT ?`;
  return db.prepare(sql).all(...args, Math.max(1, Math.min(f.limit ?? 1000, 10000))) as AnomalyRow[];
}
