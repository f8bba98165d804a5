import type { Db } from './db.js';

/** The newest reading of each kind per node: what `edgefleet run`, `GET /nodes` and the overview show. */
export interface LatestReadings {
  node: string;
  maxCelsius: number | null;
  cpuUsagePercent: number | null;
  load1: number | null;
  memoryUsedPercent: number | null;
  fullestDiskPercent: number | null;
  rxBytesPerSecond: number | null;
  txBytesPerSecond: number | null;
}

/** One query per kind, each on (node, time) indexes: cheap for hundreds of nodes. */
export function latestReadings(db: Db): Map<string, LatestReadings> {
  const out = new Map<string, LatestReadings>();
  const row = (node: string) => {
    let r = out.get(node);
    if (!r) {
      r = { node, maxCelsius: null, cpuUsagePercent: null, load1: null, memoryUsedPercent: null, fullestDiskPercent: null, rxBytesPerSecond: null, txBytesPerSecond: null };
      out.set(node, r);
    }
    return r;
  };
  const latest = (table: string, select: string, where = '') =>
    db
      .prepare(
        `SELECT n.name AS node, ${select} FROM ${table} t
         JOIN (SELECT node_id, MAX(time) AS time FROM ${table} GROUP BY node_id) m ON m.node_id = t.node_id AND m.time = t.time
         JOIN nodes n ON n.id = t.node_id
         ${where} GROUP BY t.node_id`,
      )
      .all() as Record<string, number | string | null>[];
  for (const r of latest('temperature', 'MAX(celsius) AS v')) row(r.node as string).maxCelsius = r.v as number;
  for (const r of latest('cpu', 'MAX(usage_percent) AS v', "WHERE t.cpu = 'all'")) row(r.node as string).cpuUsagePercent = r.v as number;
  for (const r of latest('load', 'MAX(load1) AS v')) row(r.node as string).load1 = r.v as number;
  for (const r of latest('memory', 'MAX(used_percent) AS v')) row(r.node as string).memoryUsedPercent = r.v as number;
  for (const r of latest('storage', 'MAX(used_percent) AS v')) row(r.node as string).fullestDiskPercent = r.v as number;
  for (const r of latest('network', 'SUM(rx_bytes_per_second) AS rx, SUM(tx_bytes_per_second) AS tx')) {
    row(r.node as string).rxBytesPerSecond = r.rx as number | null;
    row(r.node as string).txBytesPerSecond = r.tx as number | null;
  }
  return out;
}
