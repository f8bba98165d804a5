/**
 * What Grafana and the frser-sqlite-datasource plugin do to a panel's SQL before SQLite sees it,
 * as a pure function, so that tests and benchmarks run the exact statement Grafana would run.
 *
 * Two stages, in this order (docs/grafana.md, "How a query is expanded"):
 *
 * 1. Grafana's frontend (the plugin's applyTemplateVariables calls templateSrv.replace on
 *    `rawQueryText` with no default format): every `$name`, `[[name]]`, `${name}`,
 *    `${name:format}` and `${name:format:arg}` whose name is a dashboard variable, a scoped
 *    variable (`__interval`, `__interval_ms`) or a time macro (`__from`, `__to` in epoch ms,
 *    `__range_s`, `__range_ms`) is replaced; any other `$…` (`$__unixEpochGroupSeconds`, a typo)
 *    is left as it is. A multi-value variable without a format is formatted as a glob `{a,b}`,
 *    which is never valid SQL: the dashboards always say `${var:sqlstring}`.
 * 2. The plugin's backend (pkg/plugin/query.go): `$__from` / `$__to` still in the text become
 *    `TimeRange.Unix() * 1000` (for alerting), then every `$__name(args)` (args up to the first
 *    `)`) is a macro; only `$__unixEpochGroupSeconds(col, n[, NULL])` is known:
 *    `cast((col / n) as int) * n`, n parsed as a Go integer (so it must already be a literal).
 *    Other macros are left unchanged (and fail in SQLite).
 */

export type VariableValue = string | string[];

export interface ExpandContext {
  /** Dashboard time range, epoch milliseconds (what `$__from` / `$__to` become). */
  fromMs: number;
  toMs: number;
  /** The panel interval Grafana computed (see grafanaIntervalMs), milliseconds. */
  intervalMs: number;
  /**
   * Current values of the dashboard variables. `$__all` (alone or as the first element) means
   * "All" and needs the variable's options in `options`.
   */
  variables?: Record<string, VariableValue>;
  /** The options of each variable, for "All" (values only, without the All option itself). */
  options?: Record<string, string[]>;
  /** Custom "All" values (`allValue` in the dashboard), inserted verbatim as Grafana does. */
  allValues?: Record<string, string>;
}

export interface Expanded {
  sql: string;
  /** `$__unixEpochGroupSeconds(…, NULL)` asks the plugin to fill gaps with NULL rows. */
  gapFill: boolean;
  /** The last grouping interval a `$__unixEpochGroupSeconds` used, seconds. */
  fillIntervalSeconds?: number;
}

const ALL = '$__all';

/** Grafana's templateSrv variable regex (public/app/features/variables/utils.ts). */
const VARIABLE_REGEX = /\$(\w+)|\[\[(\w+?)(?::(\w+))?\]\]|\${(\w+)(?:\.([^:^\}]+))?(?::([^\}]+))?}/g;

/** The plugin's macro regex (pkg/plugin/macros.go). */
const MACRO_REGEX = /\$__([_a-zA-Z0-9]+)\(([^\)]*)\)/g;

/** Grafana's interval string for milliseconds (rangeUtil.secondsToHms). */
export function secondsToHms(seconds: number): string {
  const numYears = Math.floor(seconds / 31536000);
  if (numYears) return `${numYears}y`;
  const numDays = Math.floor((seconds % 31536000) / 86400);
  if (numDays) return `${numDays}d`;
  const numHours = Math.floor(((seconds % 31536000) % 86400) / 3600);
  if (numHours) return `${numHours}h`;
  const numMinutes = Math.floor((((seconds % 31536000) % 86400) % 3600) / 60);
  if (numMinutes) return `${numMinutes}m`;
  const numSeconds = Math.floor((((seconds % 31536000) % 86400) % 3600) % 60);
  if (numSeconds) return `${numSeconds}s`;
  const numMilliseconds = Math.floor(seconds * 1000.0);
  if (numMilliseconds) return `${numMilliseconds}ms`;
  return 'less than a millisecond';
}

/** Grafana's rangeUtil.roundInterval. */
export function roundInterval(interval: number): number {
  const steps: [number, number][] = [
    [15, 10], [35, 20], [75, 50], [150, 100], [350, 200], [750, 500], [1500, 1000], [3500, 2000], [7500, 5000],
    [12500, 10000], [17500, 15000], [25000, 20000], [45000, 30000], [90000, 60000], [210000, 120000],
    [450000, 300000], [750000, 600000], [1050000, 900000], [1500000, 1200000], [2700000, 1800000],
    [5400000, 3600000], [9000000, 7200000], [16200000, 10800000], [32400000, 21600000], [86400000, 43200000],
    [604800000, 86400000], [1814400000, 604800000], [3628800000, 2592000000],
  ];
  for (const [below, value] of steps) if (interval < below) return value;
  return 31536000000;
}

/** Parse a Grafana interval ("10s", "1m", "500ms") to milliseconds. */
export function intervalToMs(interval: string): number {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h|d|w|y)$/.exec(interval.trim());
  if (!m) throw new Error(`not a Grafana interval: ${interval}`);
  const unit = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000, y: 31_536_000_000 }[m[2] as 'ms'];
  return Number(m[1]) * unit;
}

/**
 * The interval Grafana gives a panel (rangeUtil.calculateInterval): the range divided by the
 * panel's max data points (its width in pixels unless set), rounded to a "nice" step, and never
 * below the panel's min interval (`interval` in the panel JSON).
 */
export function grafanaIntervalMs(fromMs: number, toMs: number, maxDataPoints = 1000, minInterval?: string): number {
  const lowLimitMs = minInterval ? intervalToMs(minInterval) : 1;
  const intervalMs = roundInterval((toMs - fromMs) / maxDataPoints);
  return Math.max(intervalMs, lowLimitMs);
}

type FormatValue = string | number | string[];

/** Grafana's format registry (public/app/features/templating/formatRegistry.ts), the formats SQL can use. */
function format(value: FormatValue, fmt: string | undefined, name: string): string {
  const [id, ...args] = (fmt ?? 'glob').split(':');
  const list = Array.isArray(value) ? value : undefined;
  const str = (v: string | number) => (typeof v === 'string' ? v : String(v));
  switch (id) {
    case 'raw':
      return String(value);
    case 'csv':
      return list ? list.join(',') : str(value as string);
    case 'pipe':
      return list ? list.join('|') : str(value as string);
    case 'sqlstring':
      return list ? list.map((v) => `'${v.replace(/'/g, "''")}'`).join(',') : `'${str(value as string).replace(/'/g, "''")}'`;
    case 'singlequote':
      // Grafana escapes with a backslash: wrong for SQLite if a value holds a quote.
      return list ? list.map((v) => `'${v.replace(/'/g, "\\'")}'`).join(',') : `'${str(value as string).replace(/'/g, "\\'")}'`;
    case 'doublequote':
      return list ? list.map((v) => `"${v.replace(/"/g, '\\"')}"`).join(',') : `"${str(value as string).replace(/"/g, '\\"')}"`;
    case 'json':
      return JSON.stringify(value);
    case 'date': {
      const n = typeof value === 'number' ? value : typeof value === 'string' ? parseInt(value, 10) : NaN;
      if (Number.isNaN(n)) return 'NaN';
      const arg = args[0] ?? 'iso';
      if (arg === 'ms') return String(value);
      if (arg === 'seconds') return `${Math.round(n / 1000)}`;
      if (arg === 'iso') return new Date(n).toISOString();
      throw new Error(`\${${name}:date:${arg}}: only ms, seconds and iso are modelled`);
    }
    case 'text':
      return list ? list.join(' + ') : str(value as string);
    case 'glob':
      return list && list.length > 1 ? `{${list.join(',')}}` : String(value);
    default:
      // Grafana logs "Variable format … not found" and falls back to glob.
      return list && list.length > 1 ? `{${list.join(',')}}` : String(value);
  }
}

/** Stage 1: Grafana's templateSrv.replace(rawQueryText, scopedVars). */
export function interpolateVariables(raw: string, ctx: ExpandContext): string {
  const scoped: Record<string, string | number> = {
    __interval: secondsToHms(ctx.intervalMs / 1000),
    __interval_ms: ctx.intervalMs,
  };
  return raw.replace(VARIABLE_REGEX, (match: string, var1?: string, var2?: string, fmt2?: string, var3?: string, fieldPath?: string, fmt3?: string) => {
    const name = (var1 || var2 || var3)!;
    const fmt = fmt2 || fmt3;
    if (fieldPath) throw new Error(`${match}: field paths are not modelled`);
    if (name in scoped) return format(scoped[name]!, fmt, name);
    switch (name) {
      case '__from':
        return format(ctx.fromMs, fmt, name);
      case '__to':
        return format(ctx.toMs, fmt, name);
      case '__range_ms':
        return format(ctx.toMs - ctx.fromMs, fmt, name);
      case '__range_s':
        return format(Math.round((ctx.toMs - ctx.fromMs) / 1000), fmt, name);
    }
    const value = ctx.variables?.[name];
    if (value === undefined) return match; // not a variable: left for the backend (macros) or SQLite
    const isAll = value === ALL || (Array.isArray(value) && value[0] === ALL);
    if (isAll) {
      const custom = ctx.allValues?.[name];
      // A custom all value is inserted as it is, unformatted (unless the format is text/percentencode).
      if (custom !== undefined && fmt !== 'text' && fmt !== 'percentencode') return custom;
      const options = ctx.options?.[name];
      if (!options) throw new Error(`variable ${name} is All but its options were not given`);
      return format(options, fmt, name);
    }
    return format(value, fmt, name);
  });
}

/** Go's strconv.Atoi: an optional sign and decimal digits, nothing else. */
function atoi(s: string): number | undefined {
  return /^[+-]?\d+$/.test(s) ? parseInt(s, 10) : undefined;
}

/** Stage 2: the plugin's replaceVariables and applyMacros. */
export function applyPluginMacros(sql: string, ctx: Pick<ExpandContext, 'fromMs' | 'toMs'>): Expanded {
  // query.go replaceVariables: TimeRange.From.Unix()*1000 — whole seconds.
  let out = sql
    .split('$__from').join(String(Math.floor(ctx.fromMs / 1000) * 1000))
    .split('$__to').join(String(Math.floor(ctx.toMs / 1000) * 1000));
  let gapFill = false;
  let fillIntervalSeconds: number | undefined;
  out = out.replace(MACRO_REGEX, (match: string, name: string, argText: string) => {
    if (name !== 'unixEpochGroupSeconds') return match;
    const args = argText.split(',');
    if (args.length < 2 || args.length > 3) throw new Error(`unsupported number of arguments (${args.length}) for unixEpochGroupSeconds`);
    const n = atoi(args[1]!.replace(/^ +| +$/g, ''));
    if (n === undefined) throw new Error(`could not convert '${args[1]}' to an integer grouping interval`);
    if (args.length === 3) {
      if (args[2]!.replace(/^ +| +$/g, '').toLowerCase() !== 'null') throw new Error(`unsupported gap filling value of: \`${args[2]}\``);
      gapFill = true;
    }
    fillIntervalSeconds = n;
    return `cast((${args[0]} / ${n}) as int) * ${n}`;
  });
  return { sql: out, gapFill, ...(fillIntervalSeconds === undefined ? {} : { fillIntervalSeconds }) };
}

/** Both stages: the SQL the plugin hands SQLite for this panel, range, interval and variables. */
export function expandQuery(raw: string, ctx: ExpandContext): Expanded {
  return applyPluginMacros(interpolateVariables(raw, ctx), ctx);
}

/** Variable names a query refers to (`$x`, `${x}`, `${x:fmt}`, `[[x]]`), with the format used. */
export function variableReferences(raw: string): { name: string; format?: string; text: string }[] {
  const out: { name: string; format?: string; text: string }[] = [];
  for (const m of raw.matchAll(VARIABLE_REGEX)) {
    const name = (m[1] || m[2] || m[4])!;
    const fmt = m[3] || m[6];
    out.push({ name, text: m[0], ...(fmt ? { format: fmt } : {}) });
  }
  return out;
}
