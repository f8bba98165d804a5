/**
 * bench:detect-store — detectAnomalies over the store, on both stores in the same run: a SQLite
 * file (the anchor) and a real PostgreSQL 15 started here (test/harness/postgres.ts), the same
 * statements through the SQL port (store.sql). BENCH_NODES nodes × BENCH_HOURS of 10-second
 * rounds (2 temperatures, 3 cpu rows, load, memory, a mount, an interface: 9 raw rows a node and
 * round) are written through Store.writeRound, then:
 * - the first run: every series from nothing, the whole backlog (a hub's first minute);
 * - BENCH_RUNS steady runs, each after one more minute of rounds (what the hub does each minute).
 * Wall ms and this process's CPU ms (process.cpuUsage; PostgreSQL's own server CPU is not in it)
 * per run, medians of the steady runs, and the PostgreSQL / SQLite ratio of the same run.
 * The last line:
 *   `bench:detect-store nodes=… first_sqlite_ms=… first_pg_ms=… minute_sqlite_ms=… minute_pg_ms=… minute_ratio=…`
 *
 *   npm run bench:detect-store
 *   BENCH_NODES=200 BENCH_HOURS=1 BENCH_RUNS=5 npm run bench:detect-store
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { detectAnomalies } from '../shared/detect/anomalies.js';
import type { NodeSpec } from '../shared/domain/index.js';
import { openDb, sqliteStore, type NodeReadings, type RoundWrite, type Store } from '../shared/store/index.js';
import { openPgStore } from '../shared/store/pgStore.js';
import { startPostgres } from '../test/harness/postgres.js';

const NODES = Number(process.env.BENCH_NODES ?? 100);
const HOURS = Number(process.env.BENCH_HOURS ?? 0.5);
const RUNS = Number(process.env.BENCH_RUNS ?? 3);
const ROUND_S = 10;

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};

const names = Array.from({ length: NODES }, (_, i) => `node-${String(i + 1).padStart(4, '0')}`);
const specs: NodeSpec[] = names.map((name) => ({ name, groups: ['bench'], vars: {}, connection: 'ssh', host: name, port: 22 }));

/** One round: values that wander by node and time, with a spike now and then (the detector has something to do). */
function roundOf(t: number): RoundWrite {
  const readings: NodeReadings[] = names.map((node, i) => {
    const x = 40 + 10 * Math.sin(t / 600 + i) + ((t / ROUND_S + i) % 97 === 0 ? 30 : 0);
    const cpu = (name: string, k: number) => ({ cpu: name, usagePercent: x - 20 + k, userPercent: x / 2, nicePercent: 0, systemPercent: x / 4, iowaitPercent: 1, irqPercent: 0, softirqPercent: 0.5, stealPercent: 0, idlePercent: 120 - x, intervalSeconds: ROUND_S });
    return {
      node,
      timeUnixSeconds: t,
      temperature: [0, 1].map((z) => ({ source: 'thermal_zone' as const, sensor: `thermal_zone${z}`, type: 'cpu-thermal', celsius: x + z })),
      cpu: [cpu('all', 0), cpu('cpu0', 1), cpu('cpu1', 2)],
      load: { load1: x / 20, load5: x / 25, load15: x / 30 },
      memory: { memTotalBytes: 8e9, memFreeBytes: Math.round(4e9 - x * 1e7), memAvailableBytes: Math.round(5e9 - x * 1e7), usedPercent: x },
      storage: [{ mountPoint: '/', device: '/dev/sda1', fsType: 'ext4', totalBytes: 1e11, usedBytes: 5e10, availableBytes: 5e10, usedPercent: 50 }],
      network: { counters: [{ iface: 'eth0', rxBytes: t * 1000, rxPackets: t, rxErrors: 0, rxDrops: 0, txBytes: t * 500, txPackets: t, txErrors: 0, txDrops: 0 }], rates: new Map([['eth0', { rxBytesPerSecond: x * 100, txBytesPerSecond: x * 50 }]]) },
    } as NodeReadings;
  });
  return {
    timeUnixSeconds: t, startedUnixMs: t * 1000, kinds: ['temperature', 'cpu', 'memory', 'storage', 'network'], readings, counters: [],
    runs: [], outcomes: names.map((name) => ({ name, status: 'up' as const, seenUnixSeconds: t })),
  };
}

async function write(s: Store, from: number, to: number) {
  for (let t = from; t < to; t += ROUND_S) await s.writeRound(roundOf(t));
}

async function timed(s: Store, now: number) {
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  const sum = await detectAnomalies({ db: s.sql, nowUnixSeconds: now, backlogSeconds: HOURS * 3600 + 60 });
  const wallMs = performance.now() - t0;
  const c = process.cpuUsage(c0);
  return { wallMs, cpuMs: (c.user + c.system) / 1000, samples: sum.samples, steps: sum.steps };
}

const dir = mkdtempSync(join(tmpdir(), 'edgefleet-bench-detect-store-'));
const pg = await startPostgres();
try {
  // Whole minutes, ending a minute ago: the data is recent, as a hub's is.
  const end = Math.floor(Date.now() / 1000 / 60) * 60 - 60 - RUNS * 60;
  const start = end - Math.round(HOURS * 3600);
  const stores: [string, Store][] = [
    ['sqlite', sqliteStore(openDb(join(dir, 'bench.db')))],
    ['postgres', await openPgStore(pg.createDatabase('bench'))],
  ];
  const out: Record<string, { first: Awaited<ReturnType<typeof timed>>; minutes: Awaited<ReturnType<typeof timed>>[] }> = {};
  for (const [name, s] of stores) {
    await s.syncNodes(specs, start);
    const w0 = performance.now();
    await write(s, start, end);
    console.log(`${name}: wrote ${NODES} nodes × ${HOURS} h (${((end - start) / ROUND_S) * NODES * 9} rows) in ${((performance.now() - w0) / 1000).toFixed(1)} s`);
    const first = await timed(s, end);
    const minutes: Awaited<ReturnType<typeof timed>>[] = [];
    for (let r = 0; r < RUNS; r++) {
      const from = end + r * 60;
      await write(s, from, from + 60);
      minutes.push(await timed(s, from + 60));
    }
    out[name] = { first, minutes };
    const m = (k: 'wallMs' | 'cpuMs') => median(minutes.map((x) => x[k]));
    console.log(
      `${name}: first run ${first.wallMs.toFixed(0)} ms (${first.cpuMs.toFixed(0)} ms CPU here; ${first.samples} samples, ${first.steps} steps); ` +
        `a minute's run ${m('wallMs').toFixed(0)} ms (${m('cpuMs').toFixed(0)} ms CPU here; median of ${RUNS}, ${minutes[0]!.samples} samples)`,
    );
    await s.close();
  }
  const firstS = out.sqlite!.first.wallMs;
  const firstP = out.postgres!.first.wallMs;
  const minS = median(out.sqlite!.minutes.map((x) => x.wallMs));
  const minP = median(out.postgres!.minutes.map((x) => x.wallMs));
  console.log(`load average ${loadavg().map((l) => l.toFixed(2)).join(' ')}; PostgreSQL / SQLite (anchor, same run): first run ${(firstP / firstS).toFixed(2)}, a minute's run ${(minP / minS).toFixed(2)}`);
  console.log(`bench:detect-store nodes=${NODES} first_sqlite_ms=${firstS.toFixed(0)} first_pg_ms=${firstP.toFixed(0)} minute_sqlite_ms=${minS.toFixed(0)} minute_pg_ms=${minP.toFixed(0)} minute_ratio=${(minP / minS).toFixed(2)}`);
} finally {
  await pg.close();
  rmSync(dir, { recursive: true, force: true });
}
