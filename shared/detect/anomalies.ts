/**
 * The anomaly use case: every series of every node, read sample by sample since its cursor,
 * averaged into fixed time steps (steps.ts) and scored step by step by the online detector, plus
 * the fixed rules a lab expects (unreachable, disk over 90 %, too hot) on every raw sample;
 * consecutive anomalous steps or samples merge into one episode. Per node: range seeks per raw
 * table in bounded pages, the work sliced with yields to the event loop (a hub's routes and
 * rounds keep their pace beside a large backlog), then states, cursors and episodes written in
 * one transaction. The same SQL on SQLite and PostgreSQL (the store's SQL port, store/sql.ts).
 */
import type { Logger } from '../domain/index.js';
import {
  anomalyStore,
  asSql,
  episodeKey,
  nodeRowOf,
  readSamplesPage,
  ROLLUP_SERIES,
  seriesKey,
  type Db,
  type EpisodeWrite,
  type StoredDetectorState,
} from '../store/index.js';
import type { SqlDb } from '../store/sql.js';
import { DEFAULT_DETECTOR_CONFIG, DETECTOR_NAME, detect, type DetectorConfig } from './detector.js';
import { addSample, checkStepSeconds, DEFAULT_STEP_SECONDS, isSeriesState, newSeriesState, type SeriesState } from './steps.js';

/**
 * A series the detector watches: a value of a raw table (SQL over its columns), labelled by the
 * table's series column, optionally filtered. Today exactly the rollup series (same tables,
 * labels, values), inference latency per model included — any table whose primary key starts
 * with (node_id, time) works unchanged.
 */
export interface DetectSeries {
  series: string;
  table: string;
  label: string;
  value: string;
  where?: string;
}

export const DETECT_SERIES: readonly DetectSeries[] = [...ROLLUP_SERIES];

/** Rules: fixed thresholds, as episodes with detector = 'rule'. */
export const RULES = {
  diskFullPercent: 90,
  /** Default of the `edgefleet_temp_max_celsius` host var. */
  tempMaxCelsius: 85,
} as const;

export const RULE_DETECTOR = 'rule';

/** The Raspberry Pi's get_throttled flags (bits 0-3, now) as rule episodes: bit, kind, message. */
export const RPI_THROTTLE_RULES = [
  [0, 'under_voltage', 'under-voltage now (the power supply sags below 4.63 V)'],
  [1, 'arm_freq_capped', 'ARM frequency capped now'],
  [2, 'throttled', 'throttled now'],
  [3, 'soft_temp_limit', 'soft temperature limit active now'],
] as const;

export interface DetectOptions {
  /** The store's SQL port (`store.sql`, either database), or a SQLite database. */
  db: Db | SqlDb;
  nowUnixSeconds: number;
  log?: Logger;
  config?: Readonly<DetectorConfig>;
  /** The name states and episodes are stored under (`detect.detector`); a stored state of another detector starts over. */
  detector?: string;
  /** The detector scores the mean of each step of this many seconds (`detect.stepSeconds`); 0: every raw sample. */
  stepSeconds?: number;
  /** A series never seen before starts this far back (the raw history may be days long). */
  backlogSeconds?: number;
  series?: readonly DetectSeries[];
}

export interface DetectSummary {
  nodes: number;
  series: number;
  /** New raw samples (each also checked by the rules). */
  samples: number;
  /** Rows read from the raw tables, new or not (where each table is read from: a pinned cursor re-reads). */
  rowsRead: number;
  /** Steps the detector scored. */
  steps: number;
  flagged: number;
  opened: number;
  closed: number;
  open: number;
  durationMs: number;
}

interface SeriesRun {
  def: DetectSeries;
  label: string;
  state: SeriesState;
  cursor: number;
  touched: boolean;
}

const DEFAULT_BACKLOG_SECONDS = 86400;
/** A series whose cursor is this far behind its table's newest no longer pins where the table is read from. */
const STALE_SERIES_SECONDS = 3600;
/** Rows read per query. */
const PAGE_ROWS = 4096;
/** Work done between two yields to the event loop, at most (about). */
const SLICE_MS = 8;

let sliceStartMs = performance.now();
/** Let routes and rounds in the same process (the hub) run once a slice of work is done. */
async function yieldSlice(): Promise<void> {

  if (performance.now() - sliceStartMs < SLICE_MS) return;
  await new Promise((r) => setImmediate(r));
  sliceStartMs = performance.now();
}

/** One node's host var `edgefleet_temp_max_celsius` (a number or numeric string), else the default. */
export function tempMaxCelsius(vars: Record<string, unknown>): number {
  const v = vars.edgefleet_temp_max_celsius;
  const n = typeof v === 'number' ? v : typeof v === 'string' && v.trim() !== '' ? Number(v) : NaN;
  return Number.isFinite(n) ? n : RULES.tempMaxCelsius;
}

export async function detectAnomalies(o: DetectOptions): Promise<DetectSummary> {
  const t0 = performance.now();
  sliceStartMs = t0;
  const config = o.config ?? DEFAULT_DETECTOR_CONFIG;
  const detectorName = o.detector ?? DETECTOR_NAME;
  const stepSeconds = checkStepSeconds(o.stepSeconds ?? DEFAULT_STEP_SECONDS);
  const over = stepSeconds ? ` (mean over ${stepSeconds} s)` : '';
  const defs = o.series ?? DETECT_SERIES;
  const sql = asSql(o.db);
  const store = anomalyStore(sql);
  const sum: DetectSummary = { nodes: 0, series: 0, samples: 0, rowsRead: 0, steps: 0, flagged: 0, opened: 0, closed: 0, open: 0, durationMs: 0 };
  const byTable = new Map<string, DetectSeries[]>();
  for (const d of defs) byTable.set(d.table, [...(byTable.get(d.table) ?? []), d]);

  const nodes = (await sql.all('SELECT * FROM nodes WHERE removed_unix_seconds IS NULL ORDER BY name')).map(nodeRowOf);
  for (const node of nodes) {
    sum.nodes++;
    const stored = await store.detectorStates(node.id);
    const open = await store.openEpisodes(node.id);
    const changed = new Map<string, EpisodeWrite>();
    const runs = new Map<string, SeriesRun>();
    const tempMax = tempMaxCelsius(node.vars);

    /** A sample of one series is (or is not) part of an episode of `detector`/`kind`. */
    const episode = (series: string, label: string, detector: string, kind: string, t: number, anomalous: boolean, score: number, value: number | null, message: () => string, startUnixSeconds = t) => {
      const key = episodeKey(series, label, detector, kind);
      const e = changed.get(key) ?? open.get(key);
      if (anomalous) {
        if (!e || e.endUnixSeconds !== null) {
          const fresh: EpisodeWrite = {
            nodeId: node.id, series, label, detector, kind, startUnixSeconds: Math.min(startUnixSeconds, t), endUnixSeconds: null, lastUnixSeconds: t,
            peakScore: score, peakValue: value, peakUnixSeconds: t, samples: 1, message: message(),
          };
          // A closed episode written this run stays in `changed` under its own id.
          if (e) changed.set(`${key}\0${e.id ?? changed.size}`, e);
          changed.set(key, fresh);
          sum.opened++;
        } else {
          e.lastUnixSeconds = Math.max(e.lastUnixSeconds, t);
          e.samples++;
          if (score > e.peakScore || (score === e.peakScore && detector === RULE_DETECTOR && value !== null && e.peakValue !== null && Math.abs(value) > Math.abs(e.peakValue))) {
            e.peakScore = score;
            e.peakValue = value;
            e.peakUnixSeconds = t;
            e.message = message();
          }
          changed.set(key, e);
        }
      } else if (e && e.endUnixSeconds === null && t > e.lastUnixSeconds) {
        e.endUnixSeconds = e.lastUnixSeconds;
        changed.set(key, e);
        sum.closed++;
      }
    };

    // Where each table's series stand, then one probe for the tables with anything new: most
    // nodes have rows in a few of the tables (no GPU, no inference), and on PostgreSQL each page
    // read is a round trip.
    const starts = new Map<string, number>();
    for (const [table, tableDefs] of byTable) {
      // The oldest cursor among the table's live series; a node new to the detector starts
      // `backlogSeconds` back. A series far behind the table's newest has had no samples (a
      // vanished veth): it must not pull every run a day back.
      let newest = -Infinity;
      const cursors: number[] = [];
      for (const [k, s] of stored) {
        if (!tableDefs.some((d) => k.startsWith(d.series + '\0'))) continue;
        cursors.push(s.cursorUnixSeconds);
        if (s.cursorUnixSeconds > newest) newest = s.cursorUnixSeconds;
      }
      let oldestLive = Infinity;
      for (const c of cursors) if (c >= newest - STALE_SERIES_SECONDS && c < oldestLive) oldestLive = c;
      const floor = o.nowUnixSeconds - (o.backlogSeconds ?? DEFAULT_BACKLOG_SECONDS);
      starts.set(table, cursors.length ? Math.max(floor, oldestLive) : floor);
    }
    for (const table of await tablesWithNew(sql, node.id, starts, o.nowUnixSeconds)) {
      const tableDefs = byTable.get(table)!;
      let after = starts.get(table)!;
      const label = tableDefs[0]!.label;
      const columns = [label, ...tableDefs.map((d) => (d.where ? `CASE WHEN ${d.where} THEN (${d.value}) END` : `(${d.value})`))];
      for (;;) {
        // Bounded pages in time order, the work between them sliced by time (yieldSlice): a
        // backlog of millions of samples never holds the event loop for long.
        const page = await readSamplesPage(sql, table, columns, node.id, after, o.nowUnixSeconds, PAGE_ROWS);
        if (page.rows.length === 0) break;
        sum.rowsRead += page.rows.length;
        for (let i = 0; i < page.rows.length; i++) {
          if ((i & 63) === 63) await yieldSlice(); // every 64 rows (up to 8 series each) the clock is checked
          const row = page.rows[i]!;
          const t = row[0] as number;
          const lbl = String(row[1] ?? '');
          for (let j = 0; j < tableDefs.length; j++) {
            const raw = row[j + 2];
            if (raw === null || raw === undefined) continue;
            const value = Number(raw);
            if (!Number.isFinite(value)) continue;
            const def = tableDefs[j]!;
            const key = seriesKey(def.series, lbl);
            let run = runs.get(key);
            if (!run) {
              const s: StoredDetectorState | undefined = stored.get(key);
              const saved = s && s.detector === detectorName ? s.state() : undefined;
              const state = isSeriesState(saved, stepSeconds) ? saved : newSeriesState(stepSeconds);
              run = { def, label: lbl, state, cursor: s?.cursorUnixSeconds ?? -Infinity, touched: false };
              runs.set(key, run);
            }
            if (t <= run.cursor) continue;
            run.cursor = t;
            run.touched = true;
            sum.samples++;
            const step = addSample(run.state, t, value);
            if (step) {
              sum.steps++;
              const d = detect(run.state.detector, step.value, config, step.timeUnixSeconds);
              if (d.flagged) sum.flagged++;
              episode(def.series, lbl, detectorName, 'score', step.timeUnixSeconds, d.anomalous, d.score, step.value, () => `${def.series}${lbl ? ` (${lbl})` : ''} = ${round(step.value)}${over}: anomaly score ${d.score.toFixed(3)}`);
            }
            if (def.series === 'storage.used_percent') {
              episode(def.series, lbl, RULE_DETECTOR, 'disk_full', t, value > RULES.diskFullPercent, 1, value, () => `disk ${lbl} ${round(value)} % used (over ${RULES.diskFullPercent} %)`);
            } else if (def.series === 'temperature.celsius') {
              episode(def.series, lbl, RULE_DETECTOR, 'temperature_high', t, value > tempMax, 1, value, () => `${lbl} at ${round(value)} °C (over ${tempMax} °C, edgefleet_temp_max_celsius)`);
            } else if (def.series === 'clocks.rpi_throttled_now') {
              // Each flag of the Pi firmware is an episode of its own, like "too hot".
              for (const [bit, kind, what] of RPI_THROTTLE_RULES) {
                episode(def.series, lbl, RULE_DETECTOR, kind, t, ((value >> bit) & 1) === 1, 1, value, () => `${what} (get_throttled 0x${value.toString(16)})`);
              }
            } else if (def.series === 'clocks.core_throttles') {
              episode(def.series, lbl, RULE_DETECTOR, 'cpu_throttled', t, value > 0, 1, value, () => `cpu${lbl} thermally throttled ${value} times since the round before`);
            }
          }
        }
        if (page.last) break;
        after = page.throughUnixSeconds;
        await yieldSlice();
      }
    }

    // Unreachable: the node's status, as of now.
    const unreachable = node.status === 'unreachable';
    episode('node.status', '', RULE_DETECTOR, 'unreachable', o.nowUnixSeconds, unreachable, 1, null, () => `unreachable: ${node.lastError ?? 'no connection'}`, node.lastErrorUnixSeconds ?? o.nowUnixSeconds);

    // Serialized in slices (thousands of states are tens of ms of JSON), written in one transaction.
    const states: { series: string; label: string; detector: string; cursorUnixSeconds: number; stateJson: string }[] = [];
    for (const r of runs.values()) {
      if (!r.touched) continue;
      states.push({ series: r.def.series, label: r.label, detector: detectorName, cursorUnixSeconds: r.cursor, stateJson: JSON.stringify(r.state) });
      if ((states.length & 63) === 0) await yieldSlice();
    }
    if (states.length || changed.size) await store.save(node.id, states, [...changed.values()]);
    sum.series += runs.size;
    sum.open += new Set([...open.values(), ...changed.values()].filter((e) => e.endUnixSeconds === null)).size;
    await yieldSlice();
  }
  sum.durationMs = Math.round(performance.now() - t0);
  o.log?.debug('anomalies', { ...sum });
  return sum;
}

/** Of the tables, those holding a row of the node after their start and up to `until`: one statement, an index seek per table. */
async function tablesWithNew(sql: SqlDb, nodeId: number, starts: ReadonlyMap<string, number>, until: number): Promise<string[]> {
  const tables = [...starts.keys()];
  if (tables.length === 0) return [];
  const probe = tables.map((t, i) => `SELECT ${i} AS i WHERE EXISTS (SELECT 1 FROM ${t} WHERE node_id = ? AND time > ? AND time <= ?)`).join(' UNION ALL ');
  const rows = await sql.all<{ i: number }>(probe, tables.flatMap((t) => [nodeId, starts.get(t)!, until]));
  return rows.map((r) => tables[Number(r.i)]!).sort((x, y) => tables.indexOf(x) - tables.indexOf(y));
}

const round = (v: number) => (Math.abs(v) >= 100 ? v.toFixed(0) : v.toPrecision(3));
