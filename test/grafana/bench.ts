/**
 * The dashboards' panel queries for bench/queries.ts: every panel target, expanded as Grafana +
 * frser-sqlite-datasource would for a range and a set of nodes.
 */
import { dashboardQueries, type DashboardQuery } from './dashboards.js';
import { GATE } from './build.js';
import { expandQuery, grafanaIntervalMs } from './expand.js';

export interface BenchTarget extends DashboardQuery {
  /** Dashboard title-ish label (its file name without .json). */
  dashboard: string;
  /** Panel title. */
  panel: string;
}

/** Every panel target of every provisioned dashboard (variable queries left out). */
export function dashboardTargets(): BenchTarget[] {
  return dashboardQueries()
    .filter((q) => q.kind === 'panel')
    .map((q) => ({ ...q, dashboard: q.file.replace(/\.json$/, ''), panel: q.title }));
}

/** Force the raw branch of a range-gated query whatever the range: the anchor of the benchmark. */
export function rawOnlySql(rawSql: string): string {
  return rawSql.replaceAll(GATE.m1, '0 = 1').replaceAll(GATE.h1, '0 = 1').replaceAll(GATE.h6, '0 = 1').replaceAll(GATE.raw, '1 = 1');
}

/**
 * The SQL SQLite runs for this target. `nodes`: the overview's $node is All over these nodes;
 * the node-detail dashboard (single-value $node) shows the first. The interval is Grafana's for
 * a 1000-point-wide panel with the panel's min interval. The inference dashboard's $model and
 * $tag take `o.model` (default `reference`) and All of `o.tags`.
 */
export function expandTarget(t: DashboardQuery, o: { fromMs: number; toMs: number; nodes: string[]; rawOnly?: boolean; maxDataPoints?: number; model?: string; tags?: string[] }): string {
  const single = t.dashboardUid === 'edgefleet-node';
  const intervalMs = grafanaIntervalMs(o.fromMs, o.toMs, o.maxDataPoints ?? 1000, t.minInterval);
  const raw = o.rawOnly ? rawOnlySql(t.rawSql) : t.rawSql;
  return expandQuery(raw, {
    fromMs: o.fromMs,
    toMs: o.toMs,
    intervalMs,
    variables: { node: single ? o.nodes[0]! : ['$__all'], group: ['$__all'], model: o.model ?? 'reference', tag: ['$__all'] },
    options: { node: o.nodes, group: [], tag: o.tags ?? ['v1'] },
  }).sql;
}
