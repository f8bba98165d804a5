import type { Db } from './db.js';

/** The newest reading of each kind per node: what `edgefleet run`, `edgefleet nodes`, `GET /nodes` and the overview show. */
export interface LatestReadings {
  node: string;
  maxCelsius: number | null;
  cpuUsagePercent: number | null;
  load1: number | null;
  memoryUsedPercent: number | null;
  fullestDiskPercent: number | null;
  rxBytesPerSecond: number | null;
  txBytesPerSecond: number | null;
  /** When the node's newest round ran (collector_runs), whatever came of it; null: never tried. */
  roundUnixSeconds: number | null;
  /**
   * When each value above was read (its round's time). Older than `roundUnixSeconds`: the newer
   * rounds did not get it (the node was unreachable, or that kind was rejected), so it is stale.
   */
  readUnixSeconds: { temperature: number | null; cpu: number | null; load: number | null; memory: number | null; storage: number | null; network: number | null };
  /**
   * The node has no temperature sensor (thermal zone or hwmon): its newest temperature collection
   * found none; or it is unreachable now and never reported one although it answered before.
   */
  noTemperatureSensors: boolean;
  /** GPU load, percent: the busiest GPU of the node's newest Jetson (`tegra_gpu`) or NVIDIA (`nvidia_gpu`) row; null without one. */
  gpuLoadPercent: number | null;
  /** The NVIDIA GPUs' power draw, summed, watts (nvidia-smi `power.draw`, newest row); null without one. */
  gpuPowerWatts: number | null;
  /** The node's newest total power, watts (table `power`); null without rails. */
  powerWatts: number | null;
}

type Kind = keyof LatestReadings['readUnixSeconds'];

/** A node's row before any reading is found: every value null (both stores start from it). */
export function emptyLatest(node: string): LatestReadings {
  return {
    node, maxCelsius: null, cpuUsagePercent: null, load1: null, memoryUsedPercent: null, fullestDiskPercent: null, rxBytesPerSecond: null, txBytesPerSecond: null,
    roundUnixSeconds: null, readUnixSeconds: { temperature: null, cpu: null, load: null, memory: null, storage: null, network: null }, noTemperatureSensors: false,
    gpuLoadPercent: null, gpuPowerWatts: null, powerWatts: null,
  };
}

/** One query per kind, each on (node, time) indexes, and one index seek per node for its rounds: cheap for hundreds of nodes. */
export function latestReadings(db: Db): Map<string, LatestReadings> {
  const out = new Map<string, LatestReadings>();
  const row = (node: string) => {
    let r = out.get(node);
    if (!r) {
      r = emptyLatest(node);
      out.set(node, r);
    }
    return r;
  };
  const latest = (table: Kind, select: string, where = '') =>
    db
      .prepare(
        `SELECT n.name AS node, m.time AS time, ${select} FROM ${table} t
         JOIN (SELECT node_id, MAX(time) AS time FROM ${table} GROUP BY node_id) m ON m.node_id = t.node_id AND m.time = t.time
         JOIN nodes n ON n.id = t.node_id
         ${where} GROUP BY t.node_id`,
      )
      .all() as Record<string, number | string | null>[];
  const read = (kind: Kind, select: string, set: (r: LatestReadings, v: Record<string, number | string | null>) => void, where = '') => {
    for (const v of latest(kind, select, where)) {
      const r = row(v.node as string);
      set(r, v);
      r.readUnixSeconds[kind] = v.time as number;
    }
  };
  read('temperature', 'MAX(celsius) AS v', (r, v) => (r.maxCelsius = v.v as number));
  read('cpu', 'MAX(usage_percent) AS v', (r, v) => (r.cpuUsagePercent = v.v as number), "WHERE t.cpu = 'all'");
  read('load', 'MAX(load1) AS v', (r, v) => (r.load1 = v.v as number));
  read('memory', 'MAX(used_percent) AS v', (r, v) => (r.memoryUsedPercent = v.v as number));
  read('storage', 'MAX(used_percent) AS v', (r, v) => (r.fullestDiskPercent = v.v as number));
  read('network', 'SUM(rx_bytes_per_second) AS rx, SUM(tx_bytes_per_second) AS tx', (r, v) => {
    r.rxBytesPerSecond = v.rx as number | null;
    r.txBytesPerSecond = v.tx as number | null;
  });
  // Issue 18: GPU load and power, total power, the newest row of each (no stale mark: not every
  // node has them). A node with both GPU kinds shows its busiest GPU, as the Grafana fleet table.
  for (const [table, col, set] of [
    ['tegra_gpu', 'MAX(load_percent)', (r: LatestReadings, v: number | null) => (r.gpuLoadPercent = maxOf(r.gpuLoadPercent, v))],
    ['nvidia_gpu', 'MAX(utilization_gpu_percent)', (r: LatestReadings, v: number | null) => (r.gpuLoadPercent = maxOf(r.gpuLoadPercent, v))],
    ['nvidia_gpu', 'SUM(power_draw_watts)', (r: LatestReadings, v: number | null) => (r.gpuPowerWatts = v)],
    ['power', 'MAX(watts)', (r: LatestReadings, v: number | null) => (r.powerWatts = v)],
  ] as const) {
    for (const v of latest(table as Kind, `${col} AS v`)) set(row(v.node as string), v.v as number | null);
  }
  // ORDER BY … DESC LIMIT 1 walks the (node_id, time, round_id, kind) key backwards from the
  // newest row and stops at the first match, however long the node's history.
  const rounds = db
    .prepare(
      `SELECT n.name AS node, n.status, n.last_seen_unix_seconds AS seen,
         (SELECT time FROM collector_runs WHERE node_id = n.id ORDER BY time DESC, round_id DESC LIMIT 1) AS round,
         (SELECT success + 2 * (rows > 0) FROM collector_runs WHERE node_id = n.id AND kind = 'temperature' ORDER BY time DESC, round_id DESC LIMIT 1) AS temp,
         EXISTS (SELECT 1 FROM temperature_sensors WHERE node_id = n.id) AS sensors
       FROM nodes n`,
    )
    .all() as { node: string; status: string; seen: number | null; round: number | null; temp: number | null; sensors: number }[];
  for (const x of rounds) {
    if (x.round === null) continue;
    const r = row(x.node);
    r.roundUnixSeconds = x.round;
    // temp: bit 0 the collection succeeded, bit 1 it gave rows.
    r.noTemperatureSensors = x.temp === 1 || (x.status === 'unreachable' && x.temp === 0 && x.sensors === 0 && x.seen !== null && r.maxCelsius === null);
  }
  return out;
}

/** The larger of two optional values (null: absent). */
export function maxOf(a: number | null, b: number | null): number | null {
  return a === null ? b : b === null ? a : Math.max(a, b);
}

/** How old `kind`'s value is when a newer round did not get it (stale), else null. */
export function staleSeconds(r: LatestReadings, kind: Kind, nowUnixSeconds: number): number | null {
  const read = r.readUnixSeconds[kind];
  if (read === null || r.roundUnixSeconds === null || read >= r.roundUnixSeconds) return null;
  return nowUnixSeconds - read;
}
