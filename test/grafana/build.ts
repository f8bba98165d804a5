/**
 * The source of grafana/dashboards/*.json. The SQL of every time-series panel has the same
 * shape (three range-gated branches over raw data and the two rollup levels), so it is written
 * once here rather than by hand in twenty panels. Regenerate after editing:
 *
 *   node --import tsx test/grafana/build.ts
 *
 * test/grafana.test.ts fails when the JSON files and this file disagree.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const DATASOURCE = { type: 'frser-sqlite-datasource', uid: 'edgefleet-sqlite' } as const;
export const DASHBOARDS_DIR = join(import.meta.dirname, '..', '..', 'grafana', 'dashboards');

// Grafana variable references, kept out of JS template literals.
const NODES = '${node:sqlstring}';
const GROUPS = '${group:sqlstring}';
/** The panel interval in whole seconds (Grafana has no $__interval_s; see docs/grafana.md). */
const INTERVAL_S = '${__interval_ms:date:seconds}';
/** Every time-series panel's min interval: the hub's default round, and never a 0 s bucket. */
export const MIN_INTERVAL = '10s';

/**
 * Which table a panel reads depends on how many rows it would touch: range × selected nodes.
 * Up to RAW_MAX_NODE_SECONDS the raw table (one node: 27 h; 100 nodes: 16 min), up to
 * ROLLUP_1M_MAX_NODE_SECONDS the 1-minute rollups (one node: 7 days; 100 nodes: 100 min), up to
 * ROLLUP_1H_MAX_NODE_SECONDS the 1-hour rollups (one node: 115 days; 100 nodes: 27 h), then the
 * 6-hour rollups. So one node's detail stays at full resolution for a day, and "All" of a
 * large fleet still answers in tens of milliseconds. SQLite computes the gate once per query.
 */
export const RAW_MAX_NODE_SECONDS = 100_000;
export const ROLLUP_1M_MAX_NODE_SECONDS = 600_000;
export const ROLLUP_1H_MAX_NODE_SECONDS = 10_000_000;
export const NODE_SECONDS = `(($__to - $__from) / 1000 * (SELECT COUNT(*) FROM nodes WHERE name IN (\${node:sqlstring})))`;
export const GATE = {
  raw: `${NODE_SECONDS} <= ${RAW_MAX_NODE_SECONDS}`,
  m1: `${NODE_SECONDS} > ${RAW_MAX_NODE_SECONDS} AND ${NODE_SECONDS} <= ${ROLLUP_1M_MAX_NODE_SECONDS}`,
  h1: `${NODE_SECONDS} > ${ROLLUP_1M_MAX_NODE_SECONDS} AND ${NODE_SECONDS} <= ${ROLLUP_1H_MAX_NODE_SECONDS}`,
  h6: `${NODE_SECONDS} > ${ROLLUP_1H_MAX_NODE_SECONDS}`,
};
const timeFilter = (a: string) => `${a}.time >= $__from / 1000 AND ${a}.time < $__to / 1000`;
const bucket = (a: string) => `$__unixEpochGroupSeconds(${a}.time, ${INTERVAL_S})`;
const nodeFilter = `n.name IN (${NODES})`;

/** One SELECT of a time-series query, without its range gate. */
interface Branch {
  select: string[];
  from: string;
  where: string[];
  groupBy: string;
}

const branchSql = (b: Branch, gate?: string) =>
  [
    `SELECT ${b.select.join(',\n       ')}`,
    `FROM ${b.from}`,
    `WHERE ${[...(gate ? [gate] : []), nodeFilter, ...b.where].join('\n  AND ')}`,
    `GROUP BY ${b.groupBy}`,
  ].join('\n');

/**
 * The query of a time-series panel: the raw branch alone when no rollup holds the series, else
 * raw / rollup_1m / rollup_1h gated by the range, one UNION ALL; always sorted by time.
 */
function timeSeries(raw: Branch, rollup?: (table: 'rollup_1m' | 'rollup_1h' | 'rollup_6h') => Branch, long = false): string {
  const order = `ORDER BY time ASC${long ? ', metric ASC' : ''}`;
  if (!rollup) return `${branchSql(raw)}\n${order}`;
  return [branchSql(raw, GATE.raw), branchSql(rollup('rollup_1m'), GATE.m1), branchSql(rollup('rollup_1h'), GATE.h1), branchSql(rollup('rollup_6h'), GATE.h6)].join('\nUNION ALL\n') + `\n${order}`;
}

/** A rollup row's average over a bucket of rows: weighted by their sample counts. */
const wavg = (series: string, r = 'r') => `SUM(CASE WHEN ${r}.series = '${series}' THEN ${r}.avg * ${r}.count END) / SUM(CASE WHEN ${r}.series = '${series}' THEN ${r}.count END)`;
const rmax = (series: string, r = 'r') => `MAX(CASE WHEN ${r}.series = '${series}' THEN ${r}.max END)`;
const rollupFrom = (table: string, series: string[]) =>
  `nodes n\n  JOIN ${table} r ON r.node_id = n.id AND r.series ${series.length === 1 ? `= '${series[0]}'` : `IN (${series.map((x) => `'${x}'`).join(', ')})`}`;

// ---------------------------------------------------------------------------------------------
// Queries

/** One value column of a panel: its raw expression (over alias x) and the rollup series that holds it. */
interface Col {
  name: string;
  raw: string;
  series: string;
  /** `max` reads the rollup's max (and MAX of raw) instead of the weighted average. */
  agg?: 'max';
}

interface SeriesQuery {
  table: string;
  cols: Col[];
  /** The raw table's label column (sensor, cpu, mount_point, iface); rollups hold it as r.label. */
  labelCol?: string;
  /** SQL of the legend, from the SQL of the label (x.<labelCol> or r.label). */
  metric?: (label: string) => string;
  rawWhere?: string[];
  rollupWhere?: string[];
  /** Extra joins for the legend, from the SQL of the label. */
  join?: (label: string, alias: string) => string;
}

/**
 * A time-series panel's query over a raw table and its rollups: AVG (or MAX) of each column per
 * bucket, one series per node (and label), in three range-gated branches.
 */
function series(q: SeriesQuery): string {
  const rawLabel = q.labelCol ? `x.${q.labelCol}` : "''";
  const metricSel = (label: string) => (q.metric ? [`${q.metric(label)} AS metric`] : []);
  const groupLabel = (label: string) => (q.labelCol ? `, ${label}` : '');
  const seriesList = [...new Set(q.cols.map((c) => c.series))];
  return timeSeries(
    {
      select: [`${bucket('x')} AS time`, ...metricSel(rawLabel), ...q.cols.map((c) => `${c.agg === 'max' ? 'MAX' : 'AVG'}(${c.raw}) AS ${c.name}`)],
      from: `nodes n\n  JOIN ${q.table} x ON x.node_id = n.id${q.join ? q.join(rawLabel, 'x') : ''}`,
      where: [timeFilter('x'), ...(q.rawWhere ?? [])],
      groupBy: `1, x.node_id${groupLabel(rawLabel)}`,
    },
    (table) => ({
      select: [`${bucket('r')} AS time`, ...metricSel('r.label'), ...q.cols.map((c) => `${c.agg === 'max' ? rmax(c.series) : wavg(c.series)} AS ${c.name}`)],
      from: rollupFrom(table, seriesList) + (q.join ? q.join('r.label', 'r') : ''),
      where: [timeFilter('r'), ...(q.rollupWhere ?? [])],
      groupBy: `1, r.node_id${groupLabel('r.label')}`,
    }),
    q.metric !== undefined,
  );
}

/**
 * Sensor legends, computed once per query over the few sensor rows: the type, and the sensor id
 * too when the node has two sensors of that type.
 */
const SENSOR_LABELS = `(SELECT node_id, sensor, type || CASE WHEN COUNT(*) OVER (PARTITION BY node_id, type) > 1 THEN ' ' || sensor ELSE '' END AS label FROM temperature_sensors)`;

function temperatureQuery(withNode: boolean): string {
  return series({
    table: 'temperature',
    labelCol: 'sensor',
    cols: [
      { name: 'avg', raw: 'x.celsius', series: 'temperature.celsius' },
      { name: 'max', raw: 'x.celsius', series: 'temperature.celsius', agg: 'max' },
    ],
    join: (label, a) => `\n  JOIN ${SENSOR_LABELS} s ON s.node_id = ${a}.node_id AND s.sensor = ${label}`,
    metric: () => `${withNode ? "n.name || ' ' || " : ''}s.label`,
  });
}

/** One value per node (and label): raw column `col` of `table`, or rollup `series`. */
function simpleSeries(o: { table: string; col: string; series: string; metric: (label: string) => string; rawWhere?: string[]; rollupWhere?: string[]; labelCol?: string }): string {
  return series({ table: o.table, labelCol: o.labelCol, cols: [{ name: 'value', raw: `x.${o.col}`, series: o.series }], metric: o.metric, rawWhere: o.rawWhere, rollupWhere: o.rollupWhere });
}

function networkQuery(kind: 'bytes' | 'packets' | 'errors' | 'drops', withNode: boolean): string {
  return series({
    table: 'network',
    labelCol: 'iface',
    cols: ['rx', 'tx'].map((d) => ({ name: d, raw: `x.${d}_${kind}_per_second`, series: `network.${d}_${kind}_per_second` })),
    metric: (label) => `${withNode ? "n.name || ' ' || " : ''}${label}`,
    rawWhere: [`(x.rx_${kind}_per_second IS NOT NULL OR x.tx_${kind}_per_second IS NOT NULL)`],
  });
}

function gpuClockQuery(): string {
  return series({
    table: 'tegra_gpu',
    labelCol: 'device',
    cols: [
      { name: 'gpu', raw: 'x.cur_freq_hertz', series: 'gpu.freq_hertz' },
      { name: 'emc', raw: 'x.emc_freq_hertz', series: 'gpu.emc_freq_hertz' },
    ],
    metric: (label) => label,
  });
}

function piFlagsQuery(): string {
  return series({ table: 'rpi_throttled', cols: [{ name: 'value', raw: 'x.flags & 15', series: 'clocks.rpi_throttled_now', agg: 'max' }], metric: () => "'now'" });
}

function cpuModesQuery(): string {
  const modes = ['user', 'nice', 'system', 'iowait', 'irq', 'softirq', 'steal'];
  return series({
    table: 'cpu',
    cols: modes.map((m) => ({ name: m, raw: `x.${m}_percent`, series: `cpu.${m}_percent` })),
    rawWhere: ["x.cpu = 'all'"],
    rollupWhere: ["r.label = 'all'"],
  });
}

function loadQuery(): string {
  return series({ table: 'load', cols: ['load1', 'load5', 'load15'].map((l) => ({ name: l, raw: `x.${l}`, series: `load.${l}` })) });
}

/** Memory in bytes; "used" is what the kernel cannot reclaim (see shared/store/rollups.ts). */
function memoryBytesQuery(): string {
  const used = 'x.mem_total_bytes - COALESCE(x.mem_available_bytes, x.mem_free_bytes + COALESCE(x.buffers_bytes, 0) + COALESCE(x.cached_bytes, 0))';
  return series({
    table: 'memory',
    cols: [
      { name: 'used', raw: used, series: 'memory.used_bytes' },
      { name: 'available', raw: 'x.mem_available_bytes', series: 'memory.available_bytes' },
      { name: 'cached', raw: 'x.cached_bytes', series: 'memory.cached_bytes' },
      { name: 'buffers', raw: 'x.buffers_bytes', series: 'memory.buffers_bytes' },
      { name: 'free', raw: 'x.mem_free_bytes', series: 'memory.free_bytes' },
      { name: 'total', raw: 'x.mem_total_bytes', series: 'memory.total_bytes' },
    ],
  });
}

function swapQuery(): string {
  return series({
    table: 'memory',
    cols: [
      { name: 'used', raw: 'x.swap_total_bytes - x.swap_free_bytes', series: 'memory.swap_used_bytes' },
      { name: 'total', raw: 'x.swap_total_bytes', series: 'memory.swap_total_bytes' },
    ],
    rawWhere: ['x.swap_total_bytes IS NOT NULL'],
  });
}

function diskBytesQuery(): string {
  return series({
    table: 'storage',
    labelCol: 'mount_point',
    cols: [
      { name: 'used', raw: 'x.used_bytes', series: 'storage.used_bytes' },
      { name: 'size', raw: 'x.total_bytes', series: 'storage.total_bytes' },
    ],
    metric: (label) => label,
  });
}

/** Read bytes (up) and written bytes (down) per second, per whole disk. */
function diskIoQuery(kind: 'bytes' | 'ops'): string {
  const cols = kind === 'bytes' ? ['read_bytes_per_second', 'written_bytes_per_second'] : ['reads_per_second', 'writes_per_second'];
  return series({
    table: 'diskio',
    labelCol: 'device',
    cols: cols.map((c, i) => ({ name: i === 0 ? 'read' : 'written', raw: `x.${c}`, series: `diskio.${c}` })),
    metric: (label) => label,
    rawWhere: [`x.${cols[0]} IS NOT NULL`],
  });
}

/** Percent of the interval stalled, some and full, per resource (cpu, memory, io). */
function pressureQuery(): string {
  return series({
    table: 'pressure',
    labelCol: 'resource',
    cols: [
      { name: 'some', raw: 'x.some_percent', series: 'pressure.some_percent' },
      { name: 'full', raw: 'x.full_percent', series: 'pressure.full_percent' },
    ],
    metric: (label) => label,
    rawWhere: ['x.some_percent IS NOT NULL'],
  });
}

/** One NVIDIA GPU value per GPU, labelled `index name` as the rollups are. */
function nvidiaQuery(cols: { name: string; col: string }[]): string {
  return series({
    table: 'nvidia_gpu',
    labelCol: 'gpu_index',
    cols: cols.map((c) => ({ name: c.name, raw: `x.${c.col}`, series: `nvidia.${c.col}` })),
    metric: (label) => (label === 'r.label' ? label : `CAST(${label} AS TEXT) || ' ' || x.name`),
  });
}

/**
 * When the oldest of the Nodes table's readings was read: each kind's newest time, one index
 * seek per kind (nodes without a kind, such as GPU, leave it out). Kinds as in the table.
 */
const FLEET_READ_TIMES = [
  'SELECT MAX(time) FROM temperature WHERE node_id = n.id',
  "SELECT time FROM cpu WHERE node_id = n.id AND cpu = 'all' ORDER BY time DESC LIMIT 1",
  'SELECT MAX(time) FROM memory WHERE node_id = n.id',
  'SELECT MAX(time) FROM storage WHERE node_id = n.id',
  'SELECT MAX(time) FROM nvidia_gpu WHERE node_id = n.id',
  'SELECT MAX(time) FROM tegra_gpu WHERE node_id = n.id',
  'SELECT MAX(time) FROM power WHERE node_id = n.id',
];
const FLEET_OLDEST_READ = `(SELECT MIN(t) FROM (${FLEET_READ_TIMES.map((q) => `SELECT (${q}) AS t`).join(' UNION ALL ')}) AS reads)`;
/** The node's newest round, whatever came of it (walks the collector_runs key backwards, one row). */
const FLEET_LAST_ROUND = '(SELECT time FROM collector_runs WHERE node_id = n.id ORDER BY time DESC, round_id DESC LIMIT 1)';
/** Seconds from the oldest reading shown to the range's end: its age now for a range ending now (the default). */
const FLEET_READ_AGE = `$__to / 1000 - ${FLEET_OLDEST_READ}`;
/**
 * 'stale' when a newer round did not get every reading shown (the node was unreachable, or a kind
 * was rejected) or the node is not up: latestReadings' rule, so the CLI and the table agree.
 */
const FLEET_READINGS = `CASE WHEN ${FLEET_OLDEST_READ} IS NULL THEN NULL
         WHEN n.status <> 'up' OR ${FLEET_OLDEST_READ} < ${FLEET_LAST_ROUND} THEN 'stale' ELSE 'current' END`;

/** Latest reading of one node per kind: index seeks on (node_id, time), newest first. */
const FLEET_TABLE_SQL = `SELECT n.name AS name,
       (SELECT group_concat(g.value, ', ') FROM json_each(n.groups_json) g) AS groups,
       n.host AS host,
       n.status AS status,
       n.last_seen_unix_seconds AS last_seen,
       (SELECT MAX(t.celsius) FROM temperature t
         WHERE t.node_id = n.id AND t.time = (SELECT MAX(t2.time) FROM temperature t2 WHERE t2.node_id = n.id)) AS temperature,
       (SELECT c.usage_percent FROM cpu c WHERE c.node_id = n.id AND c.cpu = 'all' ORDER BY c.time DESC LIMIT 1) AS cpu,
       (SELECT m.used_percent FROM memory m WHERE m.node_id = n.id ORDER BY m.time DESC LIMIT 1) AS memory,
       (SELECT MAX(s.used_percent) FROM storage s
         WHERE s.node_id = n.id AND s.time = (SELECT MAX(s2.time) FROM storage s2 WHERE s2.node_id = n.id)) AS disk,
       (SELECT MAX(u.v) FROM (
          SELECT MAX(v.utilization_gpu_percent) AS v FROM nvidia_gpu v
           WHERE v.node_id = n.id AND v.time = (SELECT MAX(v2.time) FROM nvidia_gpu v2 WHERE v2.node_id = n.id)
          UNION ALL
          SELECT MAX(g.load_percent) FROM tegra_gpu g
           WHERE g.node_id = n.id AND g.time = (SELECT MAX(g2.time) FROM tegra_gpu g2 WHERE g2.node_id = n.id)) u) AS gpu,
       (SELECT SUM(v.power_draw_watts) FROM nvidia_gpu v
         WHERE v.node_id = n.id AND v.time = (SELECT MAX(v2.time) FROM nvidia_gpu v2 WHERE v2.node_id = n.id)) AS gpu_watts,
       (SELECT p.watts FROM power p WHERE p.node_id = n.id ORDER BY p.time DESC LIMIT 1) AS power,
       ${FLEET_READ_AGE} AS data_age,
       ${FLEET_READINGS} AS readings
FROM nodes n
WHERE ${nodeFilter}
ORDER BY n.name ASC`;

const GEOMAP_SQL = `SELECT n.name AS name, n.status AS status, n.host AS host, n.latitude AS latitude, n.longitude AS longitude
FROM nodes n
WHERE ${nodeFilter}
  AND n.latitude IS NOT NULL AND n.longitude IS NOT NULL
ORDER BY n.name ASC`;

const nodeStat = (select: string) => `SELECT ${select}\nFROM nodes n\nWHERE ${nodeFilter}`;

// ---------------------------------------------------------------------------------------------
// Panels

type Json = Record<string, unknown>;

const STATUS_MAPPINGS = [
  {
    type: 'value',
    options: {
      up: { text: 'up', color: 'green', index: 0 },
      unreachable: { text: 'unreachable', color: 'red', index: 1 },
      error: { text: 'error', color: 'orange', index: 2 },
      unknown: { text: 'unknown', color: 'text', index: 3 },
      removed: { text: 'removed', color: 'text', index: 4 },
    },
  },
];

/** The Nodes table's readings column: stale orange, current green; a node never read says none. */
const READINGS_MAPPINGS = [
  {
    type: 'value',
    options: {
      current: { text: 'current', color: 'green', index: 0 },
      stale: { text: 'stale', color: 'semi-dark-orange', index: 1 },
    },
  },
  { type: 'special', options: { match: 'null', result: { text: 'none', color: 'text', index: 2 } } },
];

function target(sql: string, queryType: 'time series' | 'table', timeColumns: string[]): Json {
  return { refId: 'A', datasource: DATASOURCE, queryType, rawQueryText: sql, queryText: sql, timeColumns };
}

let nextId = 1;
function panel(type: string, title: string, gridPos: { x: number; y: number; w: number; h: number }, rest: Json): Json {
  return { id: nextId++, type, title, datasource: DATASOURCE, gridPos, ...rest };
}

interface TsOptions {
  unit: string;
  /** Legend: the long format's `metric` label, then the value column's name when there are several. */
  displayName?: string;
  min?: number;
  max?: number;
  stack?: boolean;
  description?: string;
  overrides?: Json[];
}

function tsPanel(title: string, gridPos: { x: number; y: number; w: number; h: number }, sql: string, o: TsOptions): Json {
  return panel('timeseries', title, gridPos, {
    ...(o.description ? { description: o.description } : {}),
    interval: MIN_INTERVAL,
    targets: [target(sql, 'time series', ['time'])],
    fieldConfig: {
      defaults: {
        unit: o.unit,
        ...(o.min === undefined ? {} : { min: o.min }),
        ...(o.max === undefined ? {} : { max: o.max }),
        ...(o.displayName ? { displayName: o.displayName } : {}),
        custom: {
          drawStyle: 'line',
          lineWidth: 1,
          fillOpacity: o.stack ? 30 : 0,
          spanNulls: false,
          showPoints: 'auto',
          stacking: { mode: o.stack ? 'normal' : 'none', group: 'A' },
        },
      },
      overrides: o.overrides ?? [],
    },
    options: { legend: { displayMode: 'table', placement: 'right', calcs: ['lastNotNull', 'max'], showLegend: true }, tooltip: { mode: 'multi', sort: 'desc' } },
  });
}

const dashedMax: Json = {
  matcher: { id: 'byRegexp', options: '.* max$' },
  properties: [{ id: 'custom.lineStyle', value: { fill: 'dash', dash: [10, 10] } }],
};
const writtenBelow: Json = {
  matcher: { id: 'byRegexp', options: '.* written$' },
  properties: [{ id: 'custom.transform', value: 'negative-Y' }],
};
const txBelow: Json = {
  matcher: { id: 'byRegexp', options: '.* tx$' },
  properties: [{ id: 'custom.transform', value: 'negative-Y' }],
};

function variable(name: string, label: string, query: string, multi: boolean): Json {
  return {
    type: 'query',
    name,
    label,
    datasource: DATASOURCE,
    query,
    definition: query,
    refresh: 1,
    sort: 1,
    multi,
    includeAll: multi,
    current: multi ? { selected: true, text: ['All'], value: ['$__all'] } : {},
    options: [],
    hide: 0,
    skipUrlSync: false,
    regex: '',
  };
}

function dashboard(uid: string, title: string, description: string, variables: Json[], panels: Json[], annotations: Json[] = [ANOMALY_ANNOTATION]): Json {
  return {
    uid,
    title,
    description,
    tags: ['edgefleet'],
    editable: true,
    graphTooltip: 1,
    schemaVersion: 39,
    version: 1,
    refresh: '30s',
    time: { from: 'now-6h', to: 'now' },
    timepicker: {},
    timezone: 'browser',
    fiscalYearStartMonth: 0,
    liveNow: false,
    weekStart: '',
    annotations: { list: annotations },
    links: [{ type: 'dashboards', tags: ['edgefleet'], asDropdown: false, title: 'edgefleet', includeVars: false, keepTime: true }],
    templating: { list: variables },
    panels,
  };
}

/**
 * Anomalous episodes (the anomalies table: detectAnomalies' detector and rules) of the selected
 * nodes that overlap the time range, as Grafana annotations on every time-series panel: a region
 * from start to end (to the last anomalous sample while open).
 */
export const ANOMALY_ANNOTATION_SQL = `SELECT a.start_unix_seconds AS time, COALESCE(a.end_unix_seconds, a.last_unix_seconds) AS timeEnd,
  n.name || ' ' || a.message AS text, a.detector || ',' || a.kind || ',' || a.series AS tags
FROM anomalies a JOIN nodes n ON n.id = a.node_id
WHERE ${nodeFilter}
  AND a.start_unix_seconds < $__to / 1000 AND COALESCE(a.end_unix_seconds, a.last_unix_seconds) >= $__from / 1000
ORDER BY time ASC`;

export const ANOMALY_ANNOTATION: Json = {
  name: 'Anomalies',
  datasource: DATASOURCE,
  enable: true,
  hide: false,
  iconColor: 'red',
  target: { refId: 'Anomalies', datasource: DATASOURCE, queryType: 'table', rawQueryText: ANOMALY_ANNOTATION_SQL, queryText: ANOMALY_ANNOTATION_SQL, timeColumns: ['time', 'timeEnd'] },
};

/** Open episodes first, then the most recent ones that overlap the time range. */
export const ANOMALIES_TABLE_SQL = `SELECT n.name AS node, a.series AS series, a.label AS label, a.detector AS detector, a.kind AS kind,
  a.start_unix_seconds AS start, a.end_unix_seconds AS end, a.samples AS samples, a.peak_score AS score, a.message AS message
FROM anomalies a JOIN nodes n ON n.id = a.node_id
WHERE ${nodeFilter}
  AND a.start_unix_seconds < $__to / 1000 AND (a.end_unix_seconds IS NULL OR a.end_unix_seconds >= $__from / 1000)
ORDER BY (a.end_unix_seconds IS NULL) DESC, a.start_unix_seconds DESC
LIMIT 200`;

function anomaliesPanel(gridPos: { x: number; y: number; w: number; h: number }): Json {
  const field = (name: string, props: Json[]) => ({ matcher: { id: 'byName', options: name }, properties: props });
  return panel('table', 'Anomalies', gridPos, {
    description: 'Open and recent anomalous episodes (docs/anomalies.md): the online detector (score in [0, 1]) and the rules (unreachable, disk over 90 %, temperature over edgefleet_temp_max_celsius). An empty end is an open episode.',
    targets: [target(ANOMALIES_TABLE_SQL, 'table', ['start', 'end'])],
    fieldConfig: {
      defaults: { custom: { align: 'auto', cellOptions: { type: 'auto' }, filterable: true } },
      overrides: [
        field('start', [{ id: 'unit', value: 'dateTimeAsIso' }]),
        field('end', [{ id: 'unit', value: 'dateTimeAsIso' }, { id: 'noValue', value: 'open' }]),
        field('score', [{ id: 'decimals', value: 3 }]),
      ],
    },
    options: { showHeader: true, cellHeight: 'sm' },
  });
}

export const FLEET_VARIABLE_SQL = {
  group: 'SELECT DISTINCT grp FROM node_groups ORDER BY grp',
  node: `SELECT n.name FROM nodes n\nWHERE n.removed_unix_seconds IS NULL\n  AND n.id IN (SELECT g.node_id FROM node_groups g WHERE g.grp IN (${GROUPS}))\nORDER BY n.name`,
};
export const NODE_VARIABLE_SQL = 'SELECT name FROM nodes ORDER BY name';

function fleetOverview(): Json {
  nextId = 1;
  const pct = { unit: 'percent', min: 0, max: 100, displayName: '${__field.labels.metric}' };
  const tableFields = (name: string, props: Json[]) => ({ matcher: { id: 'byName', options: name }, properties: props });
  return dashboard(
    'edgefleet-fleet',
    'edgefleet / Fleet overview',
    'Every node of the edgefleet database: status, latest readings, location, and history. Long ranges read the rollups.',
    [variable('group', 'Group', FLEET_VARIABLE_SQL.group, true), variable('node', 'Node', FLEET_VARIABLE_SQL.node, true)],
    [
      panel('table', 'Nodes', { x: 0, y: 0, w: 15, h: 9 }, {
        targets: [target(FLEET_TABLE_SQL, 'table', ['last_seen'])],
        fieldConfig: {
          defaults: { custom: { align: 'auto', cellOptions: { type: 'auto' }, filterable: true } },
          overrides: [
            tableFields('status', [
              { id: 'mappings', value: STATUS_MAPPINGS },
              { id: 'custom.cellOptions', value: { type: 'color-background', mode: 'basic' } },
            ]),
            tableFields('last_seen', [{ id: 'displayName', value: 'last seen' }, { id: 'unit', value: 'dateTimeFromNow' }]),
            tableFields('temperature', [{ id: 'unit', value: 'celsius' }, { id: 'decimals', value: 1 }, { id: 'displayName', value: 'temperature (max)' }]),
            tableFields('cpu', [{ id: 'unit', value: 'percent' }, { id: 'decimals', value: 1 }, { id: 'displayName', value: 'CPU' }]),
            tableFields('memory', [{ id: 'unit', value: 'percent' }, { id: 'decimals', value: 1 }]),
            tableFields('disk', [{ id: 'unit', value: 'percent' }, { id: 'decimals', value: 1 }, { id: 'displayName', value: 'fullest disk' }]),
            tableFields('gpu', [{ id: 'unit', value: 'percent' }, { id: 'decimals', value: 0 }, { id: 'displayName', value: 'GPU (busiest)' }]),
            tableFields('gpu_watts', [{ id: 'unit', value: 'watt' }, { id: 'decimals', value: 0 }, { id: 'displayName', value: 'GPU W' }]),
            tableFields('power', [{ id: 'unit', value: 'watt' }, { id: 'decimals', value: 1 }, { id: 'displayName', value: 'power' }]),
            // Stale readings (issue 15): their age, and a mark that colours the row's readings cell.
            tableFields('data_age', [{ id: 'displayName', value: 'data age' }, { id: 'unit', value: 's' }, { id: 'decimals', value: 0 }]),
            tableFields('readings', [
              { id: 'mappings', value: READINGS_MAPPINGS },
              { id: 'custom.cellOptions', value: { type: 'color-background', mode: 'basic' } },
            ]),
            tableFields('name', [
              { id: 'links', value: [{ title: 'Node detail', url: '/d/edgefleet-node/edgefleet-node-detail?var-node=${__value.raw}&${__url_time_range}' }] },
            ]),
          ],
        },
        options: { showHeader: true, cellHeight: 'sm', sortBy: [{ displayName: 'name', desc: false }] },
      }),
      panel('geomap', 'Locations', { x: 15, y: 0, w: 9, h: 9 }, {
        description: 'Nodes with nodes.latitude / nodes.longitude set; marker colour is the status.',
        targets: [target(GEOMAP_SQL, 'table', [])],
        fieldConfig: {
          defaults: { color: { mode: 'thresholds' }, thresholds: { mode: 'absolute', steps: [{ color: 'text', value: null }] } },
          overrides: [tableFields('status', [{ id: 'mappings', value: STATUS_MAPPINGS }])],
        },
        options: {
          view: { id: 'fit', lat: 0, lon: 0, zoom: 1, allLayers: true },
          controls: { showZoom: true, mouseWheelZoom: true, showAttribution: true },
          basemap: { type: 'default', name: 'Basemap' },
          tooltip: { mode: 'details' },
          layers: [
            {
              type: 'markers',
              name: 'Nodes',
              tooltip: true,
              location: { mode: 'coords', latitude: 'latitude', longitude: 'longitude' },
              config: {
                showLegend: true,
                style: {
                  size: { fixed: 8 },
                  color: { field: 'status', fixed: 'dark-green' },
                  opacity: 0.8,
                  symbol: { mode: 'fixed', fixed: 'img/icons/marker/circle.svg' },
                  text: { mode: 'field', field: 'name' },
                  textConfig: { fontSize: 11, offsetY: -12, textAlign: 'center', textBaseline: 'bottom' },
                },
              },
            },
          ],
        },
      }),
      tsPanel('Temperature per zone', { x: 0, y: 9, w: 24, h: 9 }, temperatureQuery(true), {
        unit: 'celsius',
        displayName: '${__field.labels.metric} ${__field.name}',
        description: 'Average per interval, and the maximum (dashed).',
        overrides: [dashedMax],
      }),
      tsPanel('CPU usage', { x: 0, y: 18, w: 12, h: 8 }, simpleSeries({ table: 'cpu', col: 'usage_percent', series: 'cpu.usage_percent', metric: () => 'n.name', rawWhere: ["x.cpu = 'all'"], rollupWhere: ["r.label = 'all'"] }), pct),
      tsPanel('Memory used', { x: 12, y: 18, w: 12, h: 8 }, simpleSeries({ table: 'memory', col: 'used_percent', series: 'memory.used_percent', metric: () => 'n.name' }), pct),
      tsPanel('Disk used per mount', { x: 0, y: 26, w: 12, h: 8 }, simpleSeries({ table: 'storage', col: 'used_percent', series: 'storage.used_percent', labelCol: 'mount_point', metric: (label) => `n.name || ' ' || ${label}` }), pct),
      tsPanel('Network per interface', { x: 12, y: 26, w: 12, h: 8 }, networkQuery('bytes', true), {
        unit: 'Bps',
        displayName: '${__field.labels.metric} ${__field.name}',
        description: 'Received (up) and transmitted (down) bytes per second.',
        overrides: [txBelow],
      }),
      modelsPanel({ x: 0, y: 34, w: 24, h: 8 }),
      anomaliesPanel({ x: 0, y: 42, w: 24, h: 8 }),
      deploymentsPanel({ x: 0, y: 50, w: 24, h: 8 }),
    ],
  );
}

/**
 * The model catalog (the models table, collectModels): every tag in the registries, with a
 * person's description over the image's own label. Fleet-wide: not filtered by $node.
 */
export const MODELS_TABLE_SQL = `SELECT m.repository || ':' || m.tag AS model, m.platforms AS platforms, m.size_bytes AS size,
  m.created_unix_seconds AS created, m.task AS task, m.framework AS framework,
  COALESCE(dt.description, dr.description, m.description) AS description,
  m.registry AS registry, m.last_seen_unix_seconds AS last_seen, m.error AS error
FROM models m
  LEFT JOIN model_descriptions dt ON dt.registry = m.registry AND dt.repository = m.repository AND dt.tag = m.tag
  LEFT JOIN model_descriptions dr ON dr.registry = m.registry AND dr.repository = m.repository AND dr.tag = ''
WHERE m.removed_unix_seconds IS NULL
ORDER BY m.repository, m.tag`;

function modelsPanel(gridPos: { x: number; y: number; w: number; h: number }): Json {
  const field = (name: string, props: Json[]) => ({ matcher: { id: 'byName', options: name }, properties: props });
  return panel('table', 'Models', gridPos, {
    description: 'Every model in the configured registries (docs/models.md): platforms it runs on, the largest platform\'s size, and its description (a person\'s, else the image label).',
    targets: [target(MODELS_TABLE_SQL, 'table', ['created', 'last_seen'])],
    fieldConfig: {
      defaults: { custom: { align: 'auto', cellOptions: { type: 'auto' }, filterable: true } },
      overrides: [
        field('size', [{ id: 'unit', value: 'bytes' }]),
        field('created', [{ id: 'unit', value: 'dateTimeAsIso' }]),
        field('last_seen', [{ id: 'displayName', value: 'last seen' }, { id: 'unit', value: 'dateTimeFromNow' }]),
      ],
    },
    options: { showHeader: true, cellHeight: 'sm', sortBy: [{ displayName: 'model', desc: false }] },
  });
}

/**
 * Model deployments (docs/deployments.md): the latest 200 node deployments of the selected
 * nodes, newest first, each node's state (colour-coded), progress and failure reason.
 */
export const DEPLOYMENTS_TABLE_SQL = `SELECT d.created_unix_seconds AS created, d.id AS deployment, d.action AS action,
  d.repository || CASE WHEN d.tag = '' THEN '' ELSE ':' || d.tag END AS model, n.name AS node, dn.state AS state,
  dn.progress_percent AS progress, dn.updated_unix_seconds AS updated, dn.error AS error
FROM deployment_nodes dn
  JOIN deployments d ON d.id = dn.deployment_id
  JOIN nodes n ON n.name = dn.node
WHERE n.name IN (\${node:sqlstring})
ORDER BY d.created_unix_seconds DESC, d.id, n.name
LIMIT 200`;

const DEPLOY_STATE_COLOURS: Record<string, string> = {
  queued: 'text', pulling: 'blue', creating: 'blue', starting: 'blue', verifying: 'blue', replacing: 'blue', stopping: 'blue', removing: 'blue',
  running: 'green', unchanged: 'green', pulled: 'green', started: 'green', stopped: 'text', removed: 'text', failed: 'red', rolled_back: 'orange',
};

function deploymentsPanel(gridPos: { x: number; y: number; w: number; h: number }): Json {
  const field = (name: string, props: Json[]) => ({ matcher: { id: 'byName', options: name }, properties: props });
  const options = Object.fromEntries(Object.entries(DEPLOY_STATE_COLOURS).map(([state, color], index) => [state, { color, index, text: state.replace('_', ' ') }]));
  return panel('table', 'Deployments', gridPos, {
    description: 'Model deployments per node, newest first (docs/deployments.md): queued → pulling → creating → starting → verifying → replacing → running; failed with the engine\'s reason, or rolled back (the previous container kept running).',
    targets: [target(DEPLOYMENTS_TABLE_SQL, 'table', ['created', 'updated'])],
    fieldConfig: {
      defaults: { custom: { align: 'auto', cellOptions: { type: 'auto' }, filterable: true } },
      overrides: [
        field('created', [{ id: 'unit', value: 'dateTimeAsIso' }]),
        field('updated', [{ id: 'unit', value: 'dateTimeFromNow' }]),
        field('progress', [{ id: 'unit', value: 'percent' }, { id: 'custom.cellOptions', value: { type: 'gauge', mode: 'basic' } }, { id: 'min', value: 0 }, { id: 'max', value: 100 }]),
        field('state', [{ id: 'mappings', value: [{ type: 'value', options }] }, { id: 'custom.cellOptions', value: { type: 'color-text' } }]),
      ],
    },
    options: { showHeader: true, cellHeight: 'sm' },
  });
}

function nodeDetail(): Json {
  nextId = 1;
  const byName = (name: string) => ({ matcher: { id: 'byName', options: name }, properties: [{ id: 'custom.lineStyle', value: { fill: 'dash', dash: [10, 10] } }, { id: 'custom.stacking', value: { mode: 'none', group: 'A' } }, { id: 'custom.fillOpacity', value: 0 }] });
  const stat = (title: string, x: number, w: number, sql: string, timeColumns: string[], extra: Json = {}) =>
    panel('stat', title, { x, y: 0, w, h: 4 }, {
      targets: [target(sql, 'table', timeColumns)],
      fieldConfig: { defaults: { color: { mode: 'thresholds' }, thresholds: { mode: 'absolute', steps: [{ color: 'text', value: null }] }, ...extra }, overrides: [] },
      options: { reduceOptions: { values: false, calcs: ['lastNotNull'], fields: '/.*/' }, colorMode: 'value', graphMode: 'none', textMode: 'value', justifyMode: 'auto', orientation: 'auto' },
    });
  const wide = (unit: string, extra: Partial<TsOptions> = {}): TsOptions => ({ unit, ...extra });
  const long = (unit: string, extra: Partial<TsOptions> = {}): TsOptions => ({ unit, displayName: '${__field.labels.metric}', ...extra });
  const rxtx = (unit: string, description: string): TsOptions => ({ unit, displayName: '${__field.labels.metric} ${__field.name}', overrides: [txBelow], description });
  return dashboard(
    'edgefleet-node',
    'edgefleet / Node detail',
    'Every metric edgefleet collects for one node. Long ranges read the rollups where they exist.',
    [variable('node', 'Node', NODE_VARIABLE_SQL, false)],
    [
      stat('Status', 0, 4, nodeStat('n.status AS status'), [], { mappings: STATUS_MAPPINGS }),
      stat('Last seen', 4, 5, nodeStat('n.last_seen_unix_seconds AS last_seen'), ['last_seen'], { unit: 'dateTimeFromNow' }),
      stat('Last error', 9, 11, nodeStat("COALESCE(n.last_error, 'none') AS last_error"), []),
      stat('Last error at', 20, 4, nodeStat('n.last_error_unix_seconds AS last_error_at'), ['last_error_at'], { unit: 'dateTimeAsIso', noValue: 'never' }),
      tsPanel('Temperature per sensor', { x: 0, y: 4, w: 24, h: 8 }, temperatureQuery(false), {
        unit: 'celsius',
        displayName: '${__field.labels.metric} ${__field.name}',
        description: 'Average per interval, and the maximum (dashed).',
        overrides: [dashedMax],
      }),
      tsPanel('CPU per mode', { x: 0, y: 12, w: 12, h: 8 }, cpuModesQuery(), wide('percent', { min: 0, max: 100, stack: true })),
      tsPanel('CPU per core', { x: 12, y: 12, w: 12, h: 8 }, simpleSeries({ table: 'cpu', col: 'usage_percent', series: 'cpu.usage_percent', labelCol: 'cpu', metric: (label) => `'cpu' || ${label}`, rawWhere: ["x.cpu <> 'all'"], rollupWhere: ["r.label <> 'all'"] }), long('percent', { min: 0, max: 100 })),
      tsPanel('Load', { x: 0, y: 20, w: 8, h: 8 }, loadQuery(), wide('short', {})),
      tsPanel('Memory', { x: 8, y: 20, w: 8, h: 8 }, memoryBytesQuery(), wide('bytes', { min: 0, overrides: [byName('total'), byName('available')], stack: false })),
      tsPanel('Memory used', { x: 16, y: 20, w: 8, h: 8 }, simpleSeries({ table: 'memory', col: 'used_percent', series: 'memory.used_percent', metric: () => "'used'" }), long('percent', { min: 0, max: 100 })),
      tsPanel('Swap', { x: 0, y: 28, w: 8, h: 8 }, swapQuery(), wide('bytes', { min: 0, overrides: [byName('total')] })),
      tsPanel('Disk used per mount', { x: 8, y: 28, w: 8, h: 8 }, simpleSeries({ table: 'storage', col: 'used_percent', series: 'storage.used_percent', labelCol: 'mount_point', metric: (label) => label }), long('percent', { min: 0, max: 100 })),
      tsPanel('Disk space per mount', { x: 16, y: 28, w: 8, h: 8 }, diskBytesQuery(), { unit: 'bytes', min: 0, displayName: '${__field.labels.metric} ${__field.name}' }),
      tsPanel('Network bytes', { x: 0, y: 36, w: 12, h: 8 }, networkQuery('bytes', false), rxtx('Bps', 'Received (up) and transmitted (down) bytes per second, per interface.')),
      tsPanel('Network packets', { x: 12, y: 36, w: 12, h: 8 }, networkQuery('packets', false), rxtx('pps', 'Packets per second, per interface.')),
      tsPanel('Network errors', { x: 0, y: 44, w: 12, h: 8 }, networkQuery('errors', false), rxtx('short', 'Errors per second, per interface.')),
      tsPanel('Network drops', { x: 12, y: 44, w: 12, h: 8 }, networkQuery('drops', false), rxtx('short', 'Drops per second, per interface.')),
      // Issue 18: disk I/O, inodes, pressure (node_exporter's diskstats, filesystem, pressure).
      tsPanel('Disk I/O', { x: 0, y: 52, w: 8, h: 8 }, diskIoQuery('bytes'), { ...rxtx('Bps', 'Read (up) and written (down) bytes per second, per whole disk (/proc/diskstats).'), overrides: [writtenBelow] }),
      tsPanel('Disk IOPS', { x: 8, y: 52, w: 8, h: 8 }, diskIoQuery('ops'), { ...rxtx('iops', 'Reads (up) and writes (down) completed per second, per whole disk.'), overrides: [writtenBelow] }),
      tsPanel('Disk utilization', { x: 16, y: 52, w: 8, h: 8 }, simpleSeries({ table: 'diskio', col: 'utilization_percent', series: 'diskio.utilization_percent', labelCol: 'device', metric: (label) => label, rawWhere: ['x.utilization_percent IS NOT NULL'] }), long('percent', { min: 0, max: 100, description: 'Share of the interval the disk had I/O in flight (iostat %util).' })),
      tsPanel('Inodes used per mount', { x: 0, y: 60, w: 8, h: 8 }, simpleSeries({ table: 'inodes', col: 'used_percent', series: 'inodes.used_percent', labelCol: 'mount_point', metric: (label) => label }), long('percent', { min: 0, max: 100, description: 'df -Pi: a full inode table refuses new files with space left.' })),
      tsPanel('Pressure stall', { x: 8, y: 60, w: 8, h: 8 }, pressureQuery(), { unit: 'percent', min: 0, displayName: '${__field.labels.metric} ${__field.name}', description: 'Percent of the interval tasks were stalled on CPU, memory or I/O (/proc/pressure): some = at least one task, full = all non-idle tasks at once.' }),
      tsPanel('GPU share of memory (Jetson NvMap)', { x: 16, y: 60, w: 8, h: 8 }, simpleSeries({ table: 'memory', col: 'nvmap_used_bytes', series: 'memory.nvmap_used_bytes', metric: () => "'NvMapMemUsed'", rawWhere: ['x.nvmap_used_bytes IS NOT NULL'] }), long('bytes', { min: 0, description: 'Unified memory the Jetson GPU holds (meminfo NvMapMemUsed); empty on other boards.' })),
      // NVIDIA discrete GPUs (nvidia-smi), one series per GPU.
      tsPanel('NVIDIA GPU utilization', { x: 0, y: 68, w: 8, h: 8 }, nvidiaQuery([{ name: 'gpu', col: 'utilization_gpu_percent' }, { name: 'memory', col: 'utilization_memory_percent' }]), { unit: 'percent', min: 0, max: 100, displayName: '${__field.labels.metric} ${__field.name}', description: 'Percent of time a kernel ran (gpu) and device memory was read or written (memory).' }),
      tsPanel('NVIDIA GPU power', { x: 8, y: 68, w: 8, h: 8 }, nvidiaQuery([{ name: 'draw', col: 'power_draw_watts' }]), long('watt', { min: 0 })),
      tsPanel('NVIDIA GPU memory used', { x: 16, y: 68, w: 8, h: 8 }, nvidiaQuery([{ name: 'used', col: 'memory_used_bytes' }]), long('bytes', { min: 0 })),
      tsPanel('NVIDIA GPU temperature', { x: 0, y: 76, w: 8, h: 8 }, nvidiaQuery([{ name: 'temperature', col: 'temperature_celsius' }]), long('celsius')),
      tsPanel('NVIDIA GPU clocks', { x: 8, y: 76, w: 8, h: 8 }, nvidiaQuery([{ name: 'sm', col: 'sm_clock_mhz' }, { name: 'memory', col: 'mem_clock_mhz' }]), { unit: 'rotmhz', min: 0, displayName: '${__field.labels.metric} ${__field.name}' }),
      tsPanel('NVIDIA throttle reasons', { x: 16, y: 76, w: 8, h: 8 }, series({ table: 'nvidia_gpu', labelCol: 'gpu_index', cols: [{ name: 'reasons', raw: 'x.throttle_reasons', series: 'nvidia.throttle_reasons', agg: 'max' }], metric: (label) => (label === 'r.label' ? label : `CAST(${label} AS TEXT) || ' ' || x.name`) }), long('short', { min: 0, description: 'clocks_throttle_reasons.active, the bitmask, its maximum per interval (0: not throttled; 0x1 idle, 0x4 SW power cap, 0x8 HW slowdown, 0x20 SW thermal, 0x40 HW thermal).' })),
      // GPU, power and throttling (issue 18): a node without a Jetson GPU, rails or a Pi firmware shows "No data" there.
      tsPanel('GPU load', { x: 0, y: 84, w: 8, h: 8 }, simpleSeries({ table: 'tegra_gpu', col: 'load_percent', series: 'gpu.load_percent', labelCol: 'device', metric: (label) => label }), long('percent', { min: 0, max: 100, description: 'The Jetson GPU\'s busy share (devfreq device load, per mille ÷ 10).' })),
      tsPanel('GPU and EMC clock', { x: 8, y: 84, w: 8, h: 8 }, gpuClockQuery(), { unit: 'hertz', min: 0, displayName: '${__field.labels.metric} ${__field.name}', description: 'The GPU\'s devfreq cur_freq and the memory controller (EMC) clock where readable.' }),
      tsPanel('Power per rail', { x: 16, y: 84, w: 8, h: 8 }, simpleSeries({ table: 'power_rails', col: 'watts', series: 'power.rail_watts', labelCol: 'rail', metric: (label) => label, rawWhere: ['x.watts IS NOT NULL'] }), long('watt', { min: 0, description: 'INA3221 rails (V × A) and RAPL domains (energy counter rate).' })),
      tsPanel('Total power', { x: 0, y: 92, w: 6, h: 8 }, simpleSeries({ table: 'power', col: 'watts', series: 'power.watts', metric: () => "'total'" }), long('watt', { min: 0, description: 'The board\'s input rail (VDD_IN, POM_5V_IN), else the sum of its rails; RAPL psys, else the packages.' })),
      tsPanel('CPU frequency per core', { x: 6, y: 92, w: 6, h: 8 }, simpleSeries({ table: 'cpu_frequency', col: 'cur_hertz', series: 'clocks.cpu_freq_hertz', labelCol: 'cpu', metric: (label) => `'cpu' || ${label}` }), long('hertz', { min: 0 })),
      tsPanel('CPU throttle events', { x: 12, y: 92, w: 6, h: 8 }, simpleSeries({ table: 'cpu_throttle', col: 'core_throttles_new', series: 'clocks.core_throttles', labelCol: 'cpu', metric: (label) => `'cpu' || ${label}`, rawWhere: ['x.core_throttles_new IS NOT NULL'] }), long('short', { min: 0, description: 'Thermal throttles of each core since the round before (x86 thermal_throttle counters).' })),
      tsPanel('Pi throttle flags', { x: 18, y: 92, w: 6, h: 8 }, piFlagsQuery(), long('short', { min: 0, max: 15, description: 'get_throttled now: 1 under-voltage, 2 ARM frequency capped, 4 throttled, 8 soft temperature limit (summed). Each is also an anomaly episode.' })),
    ],
  );
}

// ---------------------------------------------------------------------------------------------
// Inference (docs/inference-protocol.md): one model, its tags, the nodes it ran on.

const MODEL = '${model:sqlstring}';
const TAGS = '${tag:sqlstring}';
/**
 * The inference rows of the panel: the selected nodes' (node_id, time) index ranges, one model,
 * the selected tags. Percentiles need every latency, so these panels read the raw table (no
 * rollup holds a percentile); the (node_id, time) index keeps each read to the range.
 */
const inferenceWhere = (x: string) => [nodeFilter, timeFilter(x), `${x}.model = ${MODEL}`, `${x}.tag IN (${TAGS})`];
const inferenceFrom = (x: string) => `nodes n\n  JOIN inference ${x} ON ${x}.node_id = n.id`;
/** Nearest rank over the ok rows (rn among them, m of them): the smallest latency with rank ≥ p·m/100, as inferenceStats. */
const nearestRank = (p: number) => `MIN(CASE WHEN ok = 1 AND rn * 100 >= ${p} * m THEN latency_ms END)`;
/** Ranks of the ok latencies (no error, latency given) per partition. */
const ranked = (partition: string, select: string[], x = 'x') =>
  [
    `SELECT ${[...select, `${x}.latency_ms AS latency_ms`, `(${x}.error IS NULL AND ${x}.latency_ms IS NOT NULL) AS ok`, `ROW_NUMBER() OVER (PARTITION BY ${partition}, (${x}.error IS NULL AND ${x}.latency_ms IS NOT NULL) ORDER BY ${x}.latency_ms) AS rn`, `SUM(${x}.error IS NULL AND ${x}.latency_ms IS NOT NULL) OVER (PARTITION BY ${partition}) AS m`].join(',\n         ')}`,
    `  FROM ${inferenceFrom(x)}`,
    `  WHERE ${inferenceWhere(x).join('\n    AND ')}`,
  ].join('\n');

/** p50 / p90 / p99 per node and bucket. */
export const INFERENCE_PERCENTILES_SQL = `SELECT time, metric, ${nearestRank(50)} AS p50, ${nearestRank(90)} AS p90, ${nearestRank(99)} AS p99
FROM (
  ${ranked(`${bucket('x')}, x.node_id`, [`${bucket('x')} AS time`, 'n.name AS metric']).replace(/\n/g, '\n  ')}
)
GROUP BY time, metric
HAVING SUM(ok) > 0
ORDER BY time ASC, metric ASC`;

/** Inferences and inputs (sum of batch) per second, per node and bucket. */
export const INFERENCE_THROUGHPUT_SQL = `SELECT ${bucket('x')} AS time, n.name AS metric,
       COUNT(*) * 1.0 / ${INTERVAL_S} AS inferences,
       SUM(x.batch) * 1.0 / ${INTERVAL_S} AS samples
FROM ${inferenceFrom('x')}
WHERE ${inferenceWhere('x').join('\n  AND ')}
GROUP BY 1, x.node_id
ORDER BY time ASC, metric ASC`;

/** Right answers among the inferences without error whose truth was given, per node and bucket. */
export const INFERENCE_ACCURACY_SQL = `SELECT ${bucket('x')} AS time, n.name AS metric,
       AVG(x.label = x.expected) AS accuracy
FROM ${inferenceFrom('x')}
WHERE ${inferenceWhere('x').join('\n  AND ')}
  AND x.error IS NULL AND x.expected IS NOT NULL
GROUP BY 1, x.node_id
ORDER BY time ASC, metric ASC`;

/** Latency buckets of the heatmap (upper bounds, ms): a log scale from 0.1 ms to 10 s. */
export const LATENCY_BUCKETS_MS = [0.1, 0.25, 0.5, 1, 2.5, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 10000];
/** Inferences per latency bucket (upper bound, ms; `+Inf` above the last) per time bucket, over the selected nodes. */
export const INFERENCE_HEATMAP_SQL = `SELECT ${bucket('x')} AS time,
       ${[
         ...LATENCY_BUCKETS_MS.map((le, i) => `SUM(x.latency_ms ${i === 0 ? '' : `> ${LATENCY_BUCKETS_MS[i - 1]} AND x.latency_ms `}<= ${le}) AS "${le}"`),
         `SUM(x.latency_ms > ${LATENCY_BUCKETS_MS[LATENCY_BUCKETS_MS.length - 1]}) AS "+Inf"`,
       ].join(',\n       ')}
FROM ${inferenceFrom('x')}
WHERE ${inferenceWhere('x').join('\n  AND ')}
  AND x.error IS NULL AND x.latency_ms IS NOT NULL
GROUP BY 1
ORDER BY time ASC`;

/**
 * One model on each selected node over the range, as inferenceStats computes it: count (errors
 * included), nearest-rank p50/p95/p99 over the ok latencies, error rate, accuracy over the ok
 * rows with a truth, and the node's mean temperature (all sensors) from its first to its last
 * inference.
 */
export const INFERENCE_NODES_SQL = `SELECT s.node AS node, s.count AS count, s.p50 AS p50, s.p95 AS p95, s.p99 AS p99,
       s.error_rate AS error_rate, s.accuracy AS accuracy,
       (SELECT AVG(t.celsius) FROM temperature t
         WHERE t.node_id = s.node_id AND t.time >= CAST(s.first_ms / 1000 AS INTEGER) AND t.time <= CAST(s.last_ms / 1000 AS INTEGER) + (s.last_ms / 1000 > CAST(s.last_ms / 1000 AS INTEGER))) AS temperature
FROM (
  SELECT node, node_id, COUNT(*) AS count, ${nearestRank(50)} AS p50, ${nearestRank(95)} AS p95, ${nearestRank(99)} AS p99,
         AVG(error IS NOT NULL) AS error_rate,
         AVG(CASE WHEN error IS NULL AND expected IS NOT NULL THEN label = expected END) AS accuracy,
         MIN(time_unix_ms) AS first_ms, MAX(time_unix_ms) AS last_ms
  FROM (
    ${ranked('x.node_id', ['n.name AS node', 'x.node_id AS node_id', 'x.time_unix_ms AS time_unix_ms', 'x.error AS error', 'x.label AS label', 'x.expected AS expected']).replace(/\n/g, '\n    ')}
  )
  GROUP BY node_id
) s
ORDER BY s.node ASC`;

/**
 * Energy per inference per node and interval: the node's mean total power over the interval ×
 * its length ÷ the inferences in it (the exact trapezoid over the window is `edgefleet inference
 * stats`' joulesPerInference). Intervals without a power sample or an inference are left out.
 */
export const INFERENCE_ENERGY_SQL = `SELECT b.time AS time, b.metric AS metric, p.watts AS watts, p.watts * ${INTERVAL_S} / b.count AS joules_per_inference
FROM (
  SELECT ${bucket('x')} AS time, n.name AS metric, x.node_id AS node_id, COUNT(*) AS count
  FROM ${inferenceFrom('x')}
  WHERE ${inferenceWhere('x').join('\n    AND ')}
  GROUP BY 1, x.node_id
) b
JOIN (
  SELECT ${bucket('p')} AS time, p.node_id AS node_id, AVG(p.watts) AS watts
  FROM nodes n
  JOIN power p ON p.node_id = n.id
  WHERE ${nodeFilter}
    AND ${timeFilter('p')}
  GROUP BY 1, p.node_id
) p ON p.time = b.time AND p.node_id = b.node_id
ORDER BY time ASC`;

/**
 * Models with inferences in the range on any node, and their tags: `node_id IN (every node)` so
 * SQLite seeks each node's (node_id, time) range instead of scanning the table.
 */
export const INFERENCE_VARIABLE_SQL = {
  model: `SELECT DISTINCT x.model FROM inference x\nWHERE x.node_id IN (SELECT id FROM nodes)\n  AND ${timeFilter('x')}\nORDER BY 1`,
  tag: `SELECT DISTINCT x.tag FROM inference x\nWHERE x.node_id IN (SELECT id FROM nodes)\n  AND ${timeFilter('x')}\n  AND x.model = ${MODEL}\nORDER BY 1`,
  node: `SELECT n.name FROM nodes n\nWHERE EXISTS (SELECT 1 FROM inference x WHERE x.node_id = n.id AND ${timeFilter('x')} AND x.model = ${MODEL} AND x.tag IN (${TAGS}))\nORDER BY n.name`,
};

function inference(): Json {
  nextId = 1;
  const field = (name: string, props: Json[]) => ({ matcher: { id: 'byName', options: name }, properties: props });
  const timeVar = (v: Json) => ({ ...v, refresh: 2 });
  return dashboard(
    'edgefleet-inference',
    'edgefleet / Inference',
    'One model\'s inferences (docs/inference-protocol.md): latency percentiles, throughput, accuracy and the latency distribution over time, and its nodes side by side. Raw inference rows: percentiles have no rollup.',
    [timeVar(variable('model', 'Model', INFERENCE_VARIABLE_SQL.model, false)), timeVar(variable('tag', 'Tag', INFERENCE_VARIABLE_SQL.tag, true)), timeVar(variable('node', 'Node', INFERENCE_VARIABLE_SQL.node, true))],
    [
      tsPanel('Latency percentiles', { x: 0, y: 0, w: 24, h: 9 }, INFERENCE_PERCENTILES_SQL, {
        unit: 'ms',
        min: 0,
        displayName: '${__field.labels.metric} ${__field.name}',
        description: 'Nearest-rank p50, p90 and p99 (as MLPerf LoadGen: always a latency that happened) of the inferences without an error, per node and interval.',
        overrides: [{ matcher: { id: 'byRegexp', options: '.* p99$' }, properties: [{ id: 'custom.lineStyle', value: { fill: 'dash', dash: [10, 10] } }] }],
      }),
      tsPanel('Throughput', { x: 0, y: 9, w: 12, h: 8 }, INFERENCE_THROUGHPUT_SQL, {
        unit: 'reqps',
        min: 0,
        displayName: '${__field.labels.metric} ${__field.name}',
        description: 'Inferences per second and inputs per second (sum of batch), per node.',
      }),
      tsPanel('Accuracy', { x: 12, y: 9, w: 12, h: 8 }, INFERENCE_ACCURACY_SQL, {
        unit: 'percentunit',
        min: 0,
        max: 1,
        displayName: '${__field.labels.metric}',
        description: 'label = expected, over the inferences without an error that gave their input\'s truth, per node.',
      }),
      panel('heatmap', 'Latency distribution', { x: 0, y: 17, w: 24, h: 9 }, {
        description: 'Inferences per latency bucket (upper bound in ms, log scale) and interval, over the selected nodes.',
        interval: MIN_INTERVAL,
        targets: [target(INFERENCE_HEATMAP_SQL, 'time series', ['time'])],
        fieldConfig: { defaults: { custom: { scaleDistribution: { type: 'linear' }, hideFrom: { legend: false, tooltip: false, viz: false } } }, overrides: [] },
        options: {
          calculate: false,
          rowsFrame: { layout: 'le' },
          yAxis: { axisPlacement: 'left', unit: 'ms', reverse: false },
          color: { mode: 'scheme', scheme: 'Oranges', scale: 'exponential', exponent: 0.5, fill: 'dark-orange', reverse: false, steps: 64 },
          cellGap: 1,
          filterValues: { le: 1e-9 },
          tooltip: { mode: 'single', yHistogram: true, showColorScale: false },
          legend: { show: true },
          showValue: 'never',
        },
      }),
      tsPanel('Energy per inference', { x: 0, y: 35, w: 24, h: 8 }, INFERENCE_ENERGY_SQL, {
        unit: 'joule',
        min: 0,
        displayName: '${__field.labels.metric} ${__field.name}',
        description: "Joules per inference (the node's mean total power × the interval ÷ its inferences) and the node's mean power (W), per node. Whole-node power: the idle share is in it.",
        overrides: [{ matcher: { id: 'byRegexp', options: '.* watts$' }, properties: [{ id: 'unit', value: 'watt' }, { id: 'custom.axisPlacement', value: 'right' }] }],
      }),
      panel('table', 'Nodes', { x: 0, y: 26, w: 24, h: 9 }, {
        description: 'The model on each node over the range, as `edgefleet inference stats` computes it: nearest-rank percentiles of the inferences without an error, error rate, accuracy, and the node\'s mean temperature from its first to its last inference.',
        targets: [target(INFERENCE_NODES_SQL, 'table', [])],
        fieldConfig: {
          defaults: { custom: { align: 'auto', cellOptions: { type: 'auto' }, filterable: true } },
          overrides: [
            ...['p50', 'p95', 'p99'].map((p) => field(p, [{ id: 'unit', value: 'ms' }, { id: 'decimals', value: 3 }])),
            field('error_rate', [{ id: 'displayName', value: 'error rate' }, { id: 'unit', value: 'percentunit' }, { id: 'decimals', value: 2 }]),
            field('accuracy', [{ id: 'unit', value: 'percentunit' }, { id: 'decimals', value: 2 }]),
            field('temperature', [{ id: 'displayName', value: 'temperature (mean)' }, { id: 'unit', value: 'celsius' }, { id: 'decimals', value: 1 }]),
            field('node', [{ id: 'links', value: [{ title: 'Node detail', url: '/d/edgefleet-node/edgefleet-node-detail?var-node=${__value.raw}&${__url_time_range}' }] }]),
          ],
        },
        options: { showHeader: true, cellHeight: 'sm', sortBy: [{ displayName: 'node', desc: false }] },
      }),
    ],
  );
}

/** File name → dashboard JSON. */
export function buildDashboards(): Record<string, Json> {
  return { 'fleet-overview.json': fleetOverview(), 'inference.json': inference(), 'node-detail.json': nodeDetail() };
}

export const serialize = (d: Json) => JSON.stringify(d, null, 2) + '\n';

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  for (const [file, d] of Object.entries(buildDashboards())) writeFileSync(join(DASHBOARDS_DIR, file), serialize(d));
}
