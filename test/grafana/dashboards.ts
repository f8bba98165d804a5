/**
 * Every dashboard under grafana/dashboards and every SQL it sends: panel targets and variable
 * queries. Shared by test/grafana.test.ts and bench/queries.ts.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

export const DASHBOARDS_DIR = join(import.meta.dirname, '..', '..', 'grafana', 'dashboards');

export interface DatasourceRef {
  type?: string;
  uid?: string;
}

export interface SqlTarget {
  refId: string;
  datasource?: DatasourceRef;
  /** What the plugin's editor stores and Grafana interpolates. */
  rawQueryText: string;
  queryText?: string;
  /** 'time series' (long → wide conversion) or 'table'. */
  queryType?: string;
  timeColumns?: string[];
}

export interface Panel {
  id: number;
  type: string;
  title: string;
  datasource?: DatasourceRef;
  /** Min interval ("10s"). */
  interval?: string;
  targets?: SqlTarget[];
  panels?: Panel[];
  [key: string]: unknown;
}

export interface Variable {
  type: string;
  name: string;
  query?: string | { query?: string; rawQueryText?: string };
  datasource?: DatasourceRef;
  multi?: boolean;
  includeAll?: boolean;
  allValue?: string | null;
  [key: string]: unknown;
}

export interface Dashboard {
  uid: string;
  title: string;
  schemaVersion: number;
  templating: { list: Variable[] };
  panels: Panel[];
  [key: string]: unknown;
}

export interface LoadedDashboard {
  file: string;
  /** The file's text, for checks on the raw JSON. */
  text: string;
  dashboard: Dashboard;
}

/** One SQL statement a dashboard sends. */
export interface DashboardQuery {
  file: string;
  dashboardUid: string;
  /** `panel` for a panel target, `variable` for a query variable. */
  kind: 'panel' | 'variable';
  /** Panel type (timeseries, table, geomap, stat) or 'variable'. */
  panelType: string;
  /** Panel title or variable name. */
  title: string;
  panelId?: number;
  refId?: string;
  /** The panel's min interval, if set. */
  minInterval?: string;
  queryType: 'time series' | 'table';
  timeColumns: string[];
  datasource?: DatasourceRef;
  rawSql: string;
}

export function loadDashboards(dir = DASHBOARDS_DIR): LoadedDashboard[] {
  return readdirSync(dir)
    .filter((f) => f.endsWith('.json'))
    .sort()
    .map((file) => {
      const text = readFileSync(join(dir, file), 'utf8');
      return { file, text, dashboard: JSON.parse(text) as Dashboard };
    });
}

/** Panels in order, rows' collapsed children included. */
export function allPanels(d: Dashboard): Panel[] {
  return d.panels.flatMap((p) => [p, ...(p.panels ?? [])]);
}

function variableSql(v: Variable): string | undefined {
  if (typeof v.query === 'string') return v.query;
  return v.query?.rawQueryText ?? v.query?.query;
}

export function dashboardQueries(loaded: LoadedDashboard[] = loadDashboards()): DashboardQuery[] {
  const out: DashboardQuery[] = [];
  for (const { file, dashboard: d } of loaded) {
    for (const v of d.templating?.list ?? []) {
      const sql = variableSql(v);
      if (v.type !== 'query' || !sql) continue;
      out.push({ file, dashboardUid: d.uid, kind: 'variable', panelType: 'variable', title: v.name, queryType: 'table', timeColumns: [], ...(v.datasource ? { datasource: v.datasource } : {}), rawSql: sql });
    }
    for (const p of allPanels(d)) {
      for (const t of p.targets ?? []) {
        out.push({
          file,
          dashboardUid: d.uid,
          kind: 'panel',
          panelType: p.type,
          title: p.title,
          panelId: p.id,
          refId: t.refId,
          ...(p.interval ? { minInterval: p.interval } : {}),
          queryType: t.queryType === 'time series' ? 'time series' : 'table',
          timeColumns: t.timeColumns ?? [],
          ...((t.datasource ?? p.datasource) ? { datasource: (t.datasource ?? p.datasource)! } : {}),
          rawSql: t.rawQueryText,
        });
      }
    }
  }
  return out;
}
