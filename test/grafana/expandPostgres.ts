/**
 * What Grafana's built-in PostgreSQL datasource does to a panel's SQL before PostgreSQL sees it,
 * as a pure function (the PostgreSQL twin of expand.ts), so the tests run the exact statement
 * Grafana would run. Three stages, in this order:
 *
 * 1. Grafana's frontend: templateSrv.replace, the same as for the SQLite plugin (expand.ts
 *    interpolateVariables; the dashboards format every variable explicitly, `${node:sqlstring}`,
 *    so the datasource's own default formatter never applies). `$__interval` becomes Grafana's
 *    interval text (`1m`), `$__from` / `$__to` epoch milliseconds.
 * 2. The backend's global substitutions, grafana/grafana
 *    pkg/tsdb/grafana-postgresql-datasource/sqleng/sql_engine.go `Interpolate`:
 *    `$__interval_ms`, `$__interval`, `$__unixEpochFrom()` and `$__unixEpochTo()` (the range's
 *    ends in unix seconds, `TimeRange.From.UTC().Unix()`), as plain text replacements.
 * 3. The datasource's macros, pkg/tsdb/grafana-postgresql-datasource/macros.go: every
 *    `$__name(args)` (args up to the first `)`, split at commas, trimmed). Modelled:
 *    `$__unixEpochFilter(c)` → `c >= from AND c <= to` (unix seconds, both ends included),
 *    `$__unixEpochGroup(c, iv)` → `floor((c)/S)*S` with S the interval in seconds printed by Go's
 *    `%v` (60, 0.5), `$__unixEpochGroupAlias` the same `AS "time"`, `$__timeFilter(c)` →
 *    `c BETWEEN 'from' AND 'to'` (RFC 3339), `$__timeGroup(c, iv)` → `floor(extract(epoch from
 *    c)/S)*S`, `$__timeGroupAlias`, `$__time(c)`, `$__timeFrom()`, `$__timeTo()`. An unknown
 *    macro is an error, as the datasource makes it (`unknown macro`).
 */
import { interpolateVariables, type ExpandContext } from './expand.js';

/** macros.go's sExpr. */
const MACRO_REGEX = /\$([_a-zA-Z0-9]+)\(([^)]*)\)/g;

/** The backend's gtime.FormatInterval of a query interval (Grafana sends whole ms). */
function formatInterval(ms: number): string {
  const units: [number, string][] = [
    [86_400_000, 'd'],
    [3_600_000, 'h'],
    [60_000, 'm'],
    [1000, 's'],
  ];
  for (const [size, unit] of units) if (ms >= size) return `${Math.floor(ms / size)}${unit}`;
  return `${ms}ms`;
}

/** gtime.ParseInterval of a macro's interval argument (quotes trimmed): seconds. */
function parseIntervalSeconds(text: string): number {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h|d|w|y)$/.exec(text.replace(/^'+|'+$/g, ''));
  if (!m) throw new Error(`error parsing interval ${text}`);
  const unit = { ms: 0.001, s: 1, m: 60, h: 3600, d: 86_400, w: 604_800, y: 31_536_000 }[m[2] as 's'];
  return Number(m[1]) * unit;
}

/** Go's %v of a float64 seconds value (no trailing .0, no exponent for these sizes). */
const goFloat = (s: number) => String(s);

const rfc3339 = (ms: number) => new Date(ms).toISOString().replace('.000Z', 'Z');

/** Stages 2 and 3, for a query of `intervalMs` over [fromMs, toMs]. */
export function applyPostgresMacros(sql: string, ctx: Pick<ExpandContext, 'fromMs' | 'toMs' | 'intervalMs'>): string {
  const fromS = Math.floor(ctx.fromMs / 1000);
  const toS = Math.floor(ctx.toMs / 1000);
  let out = sql
    .split('$__interval_ms').join(String(ctx.intervalMs))
    .split('$__interval').join(formatInterval(ctx.intervalMs))
    .split('$__unixEpochFrom()').join(String(fromS))
    .split('$__unixEpochTo()').join(String(toS));
  out = out.replace(MACRO_REGEX, (match: string, name: string, argText: string) => {
    const args = argText.split(',').map((a) => a.replace(/^ +| +$/g, ''));
    const need = (n: number) => {
      if (args.length < n || !args[0]) throw new Error(`macro ${name} needs ${n === 1 ? 'a time column' : 'a time column and an interval'}: ${match}`);
    };
    switch (name) {
      case '__unixEpochFilter':
        need(1);
        return `${args[0]} >= ${fromS} AND ${args[0]} <= ${toS}`;
      case '__unixEpochGroup':
      case '__unixEpochGroupAlias': {
        need(2);
        if (args.length === 3) throw new Error(`${match}: gap filling is not modelled`);
        const s = goFloat(parseIntervalSeconds(args[1]!));
        return `floor((${args[0]})/${s})*${s}${name.endsWith('Alias') ? ' AS "time"' : ''}`;
      }
      case '__timeFilter':
        need(1);
        return `${args[0]} BETWEEN '${rfc3339(ctx.fromMs)}' AND '${rfc3339(ctx.toMs)}'`;
      case '__timeGroup':
      case '__timeGroupAlias': {
        need(2);
        const s = goFloat(parseIntervalSeconds(args[1]!));
        return `floor(extract(epoch from ${args[0]})/${s})*${s}${name.endsWith('Alias') ? ' AS "time"' : ''}`;
      }
      case '__time':
        need(1);
        return `${args[0]} AS "time"`;
      case '__timeFrom':
        return `'${rfc3339(ctx.fromMs)}'`;
      case '__timeTo':
        return `'${rfc3339(ctx.toMs)}'`;
      default:
        throw new Error(`unknown macro "${name}" in ${match}`);
    }
  });
  return out;
}

/** All three stages: the SQL Grafana's PostgreSQL datasource hands PostgreSQL. */
export function expandPostgresQuery(raw: string, ctx: ExpandContext): string {
  return applyPostgresMacros(interpolateVariables(raw, ctx), ctx);
}
