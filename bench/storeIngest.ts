/**
 * bench:store, part 3 — the same run on both stores (SQLite file, and a real PostgreSQL 15
 * started here, test/harness/postgres.ts): BENCH_NODES nodes × BENCH_HOURS of 10-second
 * rounds written through Store.writeRound (the collection path), then:
 * - ingest samples/s (a sample = one stored row: one sensor, cpu, mount or interface at one
 *   time; a round of one node is SAMPLES_PER_NODE rows);
 * - a dashboard panel's p95 over BENCH_PANELS random nodes: one node's CPU usage over 1 h
 *   from raw samples, over 24 h from 1-minute rollups (after updateRollups), per minute;
 * - bytes per sample: the raw tables' size on disk (SQLite: the file; PostgreSQL:
 *   pg_total_relation_size of the partitions, indexes included) over the rows;
 * - retention of those days: SQLite deletes rows, PostgreSQL drops partitions.
 * The data sits three days back (whole UTC days), so retention of one day removes all of it.
 * The issue's size is 1,000 nodes × 24 h (BENCH_HOURS=24); the default is 2 h on this machine.
 */
import { statSync } from 'node:fs';
import { join } from 'node:path';
import type { NodeSpec } from '../shared/domain/index.js';
import { openDb, sqliteStore, type NodeReadings, type RoundWrite, type Store } from '../shared/store/index.js';
import { openPgStore, type PgStore } from '../shared/store/pgStore.js';
import { startPostgres } from '../test/harness/postgres.js';

const NODES = Number(process.env.BENCH_NODES ?? 1000);
const HOURS = Number(process.env.BENCH_HOURS ?? 2);
const PANELS = Number(process.env.BENCH_PANELS ?? 50);
/** 2 temperatures, 5 cpu rows (all + 4 cores), load, memory, 2 mounts, 2 interfaces. */
const SAMPLES_PER_NODE = 13;
const DAY = 86400;

/** `?` placeholders as PostgreSQL's `$1, $2, …`. */
const dollars = (sql: string) => {
  let i = 0;
  return sql.replace(/\?/g, () => `$${++i}`);
};
const quantile = (xs: number[], q: number) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(q * xs.length))] ?? NaN;

function roundOf(t: number, nodes: string[]): RoundWrite {
  const readings: NodeReadings[] = nodes.map((node, i) => {
    const x = (t / 10 + i) % 100;
    const cpu = (name: string) => ({ cpu: name, usagePercent: x, userPercent: x / 2, nicePercent: 0, systemPercent: x / 4, iowaitPercent: 1, irqPercent: 0, softirqPercent: 0.5, stealPercent: 0, idlePercent: 100 - x, intervalSeconds: 10 });
    return {
      node,
      timeUnixSeconds: t,
      temperature: [
        { source: 'thermal_zone' as const, sensor: 'thermal_zone0', type: 'cpu-thermal', celsius: 40 + (x % 20) },
        { source: 'hwmon' as const, sensor: 'hwmon0/temp1', type: 'coretemp', celsius: 45 + (x % 15) },
      ],
      cpu: ['all', 'cpu0', 'cpu1', 'cpu2', 'cpu3'].map(cpu),
      load: { load1: x / 50, load5: x / 60, load15: x / 70 },
      memory: { memTotalBytes: 8e9, memFreeBytes: 2e9 + x * 1e6, memAvailableBytes: 4e9, buffersBytes: 1e8, cachedBytes: 2e9, swapTotalBytes: 0, swapFreeBytes: 0, usedPercent: 50 + x / 10 },
      storage: ['/', '/data'].map((m) => ({ mountPoint: m, device: `/dev/sd${m.length}`, fsType: 'ext4', totalBytes: 1e11, usedBytes: 5e10 + t, availableBytes: 5e10 - t, usedPercent: 50 })),
      network: {
        counters: ['eth0', 'wlan0'].map((iface) => ({ iface, rxBytes: t * 1000, rxPackets: t, rxErrors: 0, rxDrops: 0, txBytes: t * 500, txPackets: t, txErrors: 0, txDrops: 0 })),
        rates: new Map(['eth0', 'wlan0'].map((iface) => [iface, { iface, intervalSeconds: 10, rxBytesPerSecond: 1000, txBytesPerSecond: 500, rxPacketsPerSecond: 1, txPacketsPerSecond: 1, rxErrorsPerSecond: 0, txErrorsPerSecond: 0, rxDropsPerSecond: 0, txDropsPerSecond: 0 }])),
      },
    };
  });
  return { timeUnixSeconds: t, startedUnixMs: t * 1000, kinds: ['temperature', 'cpu', 'memory', 'storage', 'network'], readings, counters: [], runs: [], outcomes: [] };
}

interface Result {
  samplesPerSecond: number;
  p95_1hMs: number;
  p95_24hMs: number;
  bytesPerSample: number;
  retentionMs: number;
  rows: number;
}

async function runOn(store: Store, sizeBytes: () => Promise<number>, panel: (node: number, from: number, to: number, rollup: boolean) => Promise<unknown>): Promise<Result> {
  const names = Array.from({ length: NODES }, (_, i) => `node-${i}`);
  const specs: NodeSpec[] = names.map((name) => ({ name, host: name, port: 22, connection: 'ssh', groups: [], vars: {} }));
  const start = Math.floor(Date.now() / 1000 / DAY) * DAY - 3 * DAY;
  await store.syncNodes(specs, start);
  const rounds = (HOURS * 3600) / 10;
  const t0 = performance.now();
  for (let r = 0; r < rounds; r++) await store.writeRound(roundOf(start + r * 10, names));
  const seconds = (performance.now() - t0) / 1000;
  const rows = rounds * NODES * SAMPLES_PER_NODE;
  await store.updateRollups(start + HOURS * 3600 + 120);
  const end = start + HOURS * 3600;
  const p1: number[] = [];
  const p24: number[] = [];
  for (let i = 0; i < PANELS; i++) {
    const node = 1 + Math.floor(Math.random() * NODES);
    let t = performance.now();
    await panel(node, end - 3600, end, false);
    p1.push(performance.now() - t);
    t = performance.now();
    await panel(node, end - DAY, end, true);
    p24.push(performance.now() - t);
  }
  const bytes = await sizeBytes();
  const r0 = performance.now();
  await store.applyRetention({ rawDays: 1, rollup1mDays: 0, rollup1hDays: 0, rollup6hDays: 0 }, Math.floor(Date.now() / 1000));
  const retentionMs = performance.now() - r0;
  return { samplesPerSecond: rows / seconds, p95_1hMs: quantile(p1, 0.95), p95_24hMs: quantile(p24, 0.95), bytesPerSample: bytes / rows, retentionMs, rows };
}

/** Both stores, same data; returns the figures and prints them. */
export async function benchIngest(dir: string): Promise<{ sqlite: Result; pg: Result }> {
  const path = join(dir, 'ingest.db');
  const db = openDb(path);
  const panelSql = (rollup: boolean) =>
    rollup
      ? "SELECT time, avg FROM rollup_1m WHERE node_id = ? AND series = 'cpu.usage_percent' AND label = 'all' AND time >= ? AND time < ? ORDER BY time"
      : "SELECT (time / 60) * 60 AS t, AVG(usage_percent) FROM cpu WHERE node_id = ? AND cpu = 'all' AND time >= ? AND time < ? GROUP BY 1 ORDER BY 1";
  const sqlite = await runOn(
    sqliteStore(db),
    async () => {
      db.pragma('wal_checkpoint(TRUNCATE)');
      return statSync(path).size;
    },
    async (node, from, to, rollup) => db.prepare(panelSql(rollup)).all(node, from, to),
  );
  db.close();
  const server = await startPostgres();
  let pg: Result;
  try {
    const store = (await openPgStore(server.url)) as PgStore;
    pg = await runOn(
      store,
      async () => {
        await store.pg.query('VACUUM ANALYZE');
        const [r] = await store.pg.query<{ b: number }>(
          `SELECT SUM(pg_total_relation_size(i.inhrelid))::bigint AS b FROM pg_inherits i JOIN pg_class p ON p.oid = i.inhparent
           WHERE p.relname = ANY(ARRAY['temperature', 'cpu', 'load', 'memory', 'storage', 'network'])`,
        );
        return r!.b;
      },
      async (node, from, to, rollup) => store.pg.query(dollars(panelSql(rollup)), [node, from, to]),
    );
    await store.close();
  } finally {
    await server.close();
  }
  const line = (name: string, r: Result) =>
    `${name}: ingest ${r.samplesPerSecond.toFixed(0)} samples/s (${r.rows} rows), panel p95 1 h ${r.p95_1hMs.toFixed(1)} ms, 24 h ${r.p95_24hMs.toFixed(1)} ms, ${r.bytesPerSample.toFixed(1)} bytes/sample, retention of the data ${r.retentionMs.toFixed(0)} ms`;
  console.log(`${NODES} nodes × ${HOURS} h of 10-second rounds, ${SAMPLES_PER_NODE} samples per node and round, both stores:`);
  console.log(line('sqlite', sqlite));
  console.log(line('postgres', pg));
  console.log(`ratio (postgres / sqlite, the anchor): ingest ${(pg.samplesPerSecond / sqlite.samplesPerSecond).toFixed(2)}, p95 24 h ${(pg.p95_24hMs / sqlite.p95_24hMs).toFixed(2)}, retention ${(pg.retentionMs / sqlite.retentionMs).toFixed(3)}`);
  return { sqlite, pg };
}
