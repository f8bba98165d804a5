/**
 * The source of grafana/dashboards-postgres/*.json: the dashboards of build.ts for Grafana's
 * built-in PostgreSQL datasource (a store at `store.url: postgres://…`, docs/grafana.md). Same
 * panels, variables, legends and links; each query translated from the SQLite plugin's dialect
 * by the rules below, which keep every value the same on the same rows (test/grafanaPostgres.test.ts
 * runs both sets on one collection and compares). Regenerate after editing build.ts or this file:
 *
 *   node --import tsx test/grafana/buildPostgres.ts
 *
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildDashboards, DATASOURCE, serialize } from './build.js';

export const PG_DATASOURCE = { type: 'grafana-postgresql-datasource', uid: 'edgefleet-postgres' } as const;
export const PG_DASHBOARDS_DIR = join(import.meta.dirname, '..', '..', 'grafana', 'dashboards-postgres');
/** The dashboards translated so far (file names of build.ts). */
export const PG_DASHBOARD_FILES = ['fleet-overview.json', 'inference.json', 'node-detail.json'] as const;

type Json = Record<string, unknown>;

/**
 * SQLite-dialect SQL → PostgreSQL, text for text. Each rule is exact for the SQL build.ts
 * writes; anything SQLite-only that is left is an error here, not a broken panel in Grafana.
 */
export const SQL_RULES: { what: string; from: RegExp; to: string }[] = [
  {
    // The plugin's only macro; the PostgreSQL datasource's own bucket macro, fed Grafana's interval text
    // ("1m"): both give the bucket's start in unix seconds (integer division of integer seconds).
    what: '$__unixEpochGroupSeconds(col, ${__interval_ms:date:seconds}) → $__unixEpochGroup(col, $__interval)',
    from: /\$__unixEpochGroupSeconds\(([^,()]+), \$\{__interval_ms:date:seconds\}\)/g,
    to: '$$__unixEpochGroup($1, $$__interval)',
  },
  {
    // The range's ends in unix seconds: SQLite's `$__from / 1000` (integer division of epoch ms)
    // is the datasource's $__unixEpochFrom() (TimeRange.From.Unix()). Kept as `>= from AND < to`
    // rather than $__unixEpochFilter, whose `<= to` would take one more second than the SQLite panel.
    what: '$__from / 1000 → $__unixEpochFrom(), $__to / 1000 → $__unixEpochTo()',
    from: /\$__(from|to) \/ 1000\b/g,
    to: '$$__unixEpoch_$1()',
  },
  {
    // A node's groups, in inventory order: JSON array elements with their ordinality.
    what: 'group_concat(g.value, sep) FROM json_each(x) g → string_agg(g.value, sep ORDER BY g.i) FROM json_array_elements_text(x::json) WITH ORDINALITY g(value, i)',
    from: /group_concat\(g\.value, ('[^']*')\) FROM json_each\(([\w.]+)\) g\b/g,
    to: 'string_agg(g.value, $1 ORDER BY g.i) FROM json_array_elements_text($2::json) WITH ORDINALITY AS g(value, i)',
  },
  {
    // SQLite's comparisons are integers (0/1) a sum or mean counts; PostgreSQL's are booleans.
    // The inference queries count their ok, in-bucket and correct rows so.
    what: 'SUM(cond) / AVG(cond) / (cond) AS ok / THEN cond END → (cond)::int',
    from: /\b(SUM|AVG)\(((?:x\.)?(?:error|latency_ms|label) (?:IS|<=|>|=)[^()]*)\)/g,
    to: '$1(($2)::int)',
  },
  {
    what: '(x.error IS NULL AND x.latency_ms IS NOT NULL) AS ok → (…)::int AS ok',
    from: /\((x\.error IS NULL AND x\.latency_ms IS NOT NULL)\) AS ok\b/g,
    to: '($1)::int AS ok',
  },
  {
    what: 'THEN label = expected END → THEN (label = expected)::int END',
    from: /\bTHEN (label = expected) END\b/g,
    to: 'THEN ($1)::int END',
  },
  {
    // SQLite's CAST(real AS INTEGER) truncates; PostgreSQL's rounds. A comparison added to it is a boolean there.
    what: 'CAST(e AS INTEGER) → trunc(e)::bigint, + (a > b) → + (a > b)::int',
    from: /CAST\(([^()]+) AS INTEGER\)/g,
    to: 'trunc($1)::bigint',
  },
  {
    what: '+ (a / 1000 > trunc(…)::bigint) → + (…)::int',
    from: /\+ \(([\w.]+ \/ 1000 > trunc\([^()]+\)::bigint)\)/g,
    to: '+ ($1)::int',
  },
  {
    // PostgreSQL 15 wants a name for every subquery in FROM.
    what: 'FROM ( … ) → FROM ( … ) AS q',
    from: /\n(\s*)\)\n(\s*)GROUP BY/g,
    to: '\n$1) AS q\n$2GROUP BY',
  },
  {
    // The inference table's per-node row shows the node's name beside the node_id it groups by.
    what: 'GROUP BY node_id → GROUP BY node_id, node',
    from: /\bGROUP BY node_id\n/g,
    to: 'GROUP BY node_id, node\n',
  },
  {
    // Unquoted names fold to lower case in PostgreSQL; Grafana looks for `timeEnd`.
    what: 'AS timeEnd → AS "timeEnd"',
    from: /\bAS timeEnd\b/g,
    to: 'AS "timeEnd"',
  },
];

/** Functions and forms with no PostgreSQL meaning (or another one): left over, they fail the build. */
const SQLITE_ONLY = /\b(group_concat|json_each|json_extract|ifnull|strftime|datetime|julianday|unixepoch|printf|instr|iif|typeof)\s*\(|\$__unixEpochGroupSeconds|\bCAST\([^)]*\bAS INTEGER\)/i;

/**
 * SQLite lets a grouped SELECT show a column it does not group by (a bare column); PostgreSQL
 * does not. The time-series branches show their legend (`… AS metric`, second) from the node's
 * name and the label, which the GROUP BY's node_id and label decide: grouping by the legend too
 * (`GROUP BY 1, 2, …`) makes the same groups.
 */
function groupByLegend(sql: string): string {
  return sql
    .split('\nUNION ALL\n')
    .map((branch) => (/^\s*SELECT [^\n]* AS time,\s*[^\n]* AS metric,/.test(branch) ? branch.replace(/\bGROUP BY 1, (?!2\b)/, 'GROUP BY 1, 2, ') : branch))
    .join('\nUNION ALL\n');
}

export function toPostgresSql(sql: string): string {
  let out = groupByLegend(sql);
  for (const r of SQL_RULES) out = out.replace(r.from, r.to);
  out = out.replace(/\$__unixEpoch_(from|to)\(\)/g, (_m, end: string) => (end === 'from' ? '$__unixEpochFrom()' : '$__unixEpochTo()'));
  const left = SQLITE_ONLY.exec(out);
  if (left) throw new Error(`no PostgreSQL translation for "${left[0]}" in:\n${sql}`);
  return out;
}

const isSqliteDatasource = (v: unknown) => typeof v === 'object' && v !== null && (v as Json).uid === DATASOURCE.uid;

/** A SQLite plugin target ({rawQueryText, queryType, timeColumns}) as the PostgreSQL datasource stores one. */
function pgTarget(t: Json): Json {
  const { refId, queryType, rawQueryText } = t as { refId: string; queryType?: string; rawQueryText: string };
  return { refId, datasource: PG_DATASOURCE, editorMode: 'code', format: queryType === 'time series' ? 'time_series' : 'table', rawQuery: true, rawSql: toPostgresSql(rawQueryText) };
}

const UIDS: Record<string, string> = { 'edgefleet-fleet': 'edgefleet-fleet-pg', 'edgefleet-node': 'edgefleet-node-pg', 'edgefleet-inference': 'edgefleet-inference-pg' };

/** Deep copy of a SQLite dashboard for the PostgreSQL datasource. */
export function toPostgresDashboard(d: Json): Json {
  const walk = (v: unknown): unknown => {
    if (Array.isArray(v)) return v.map((x) => walk(x));
    if (typeof v === 'string') {
      // Links between the dashboards stay within the PostgreSQL set.
      return v.replace(/\/d\/(edgefleet-\w+)\//g, (m, uid: string) => (UIDS[uid] ? `/d/${UIDS[uid]}/` : m));
    }
    if (typeof v !== 'object' || v === null) return v;
    if (isSqliteDatasource(v)) return PG_DATASOURCE;
    const o = v as Json;
    if (typeof o.rawQueryText === 'string') return pgTarget(o);
    const out: Json = {};
    for (const [k, x] of Object.entries(o)) {
      // A query variable keeps its SQL in `query` and `definition`.
      if ((k === 'query' || k === 'definition') && typeof x === 'string' && o.type === 'query') out[k] = toPostgresSql(x);
      else if (k === 'tags' && Array.isArray(x) && x.includes('edgefleet')) out[k] = x.map((t) => (t === 'edgefleet' ? 'edgefleet-postgres' : t));
      else out[k] = walk(x);
    }
    return out;
  };
  const out = walk(d) as Json;
  return { ...out, uid: UIDS[d.uid as string] ?? `${String(d.uid)}-pg`, title: `${String(d.title)} (PostgreSQL)` };
}

/** File name → PostgreSQL dashboard JSON. */
export function buildPostgresDashboards(): Record<string, Json> {
  const all = buildDashboards();
  return Object.fromEntries(PG_DASHBOARD_FILES.map((f) => [f, toPostgresDashboard(all[f]!)]));
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  mkdirSync(PG_DASHBOARDS_DIR, { recursive: true });
  for (const [file, d] of Object.entries(buildPostgresDashboards())) writeFileSync(join(PG_DASHBOARDS_DIR, file), serialize(d));
}
