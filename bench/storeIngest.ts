/**
 * bench:store, part 3 — the same run on both stores (SQLite file, and a real PostgreSQL 15
 * started here with PostgreSQL's durability defaults, test/harness/postgres.ts): BENCH_NODES
 * nodes × BENCH_HOURS of 10-second rounds, then:
 * - ingest samples/s (a sample = one stored row: one sensor, cpu, mount or interface at one
 *   time; a round of one node is SAMPLES_PER_NODE rows), measured over the LAST
 *   BENCH_MEASURED_HOURS, written through Store.writeRound (the collection path), onto tables
 *   that already hold the hours before. Those earlier hours are FILL, not measured: written by
 *   one bulk SQL statement per table and hour (the same rows the rounds would write), because a
 *   day at SQLite's rate takes hours here. Beside the rate: this process's CPU per sample and,
 *   on PostgreSQL, the server's (its processes' /proc times), which a loaded machine inflates
 *   less than wall time;
 * - a dashboard panel's p95 over BENCH_PANELS random nodes: one node's CPU usage over 1 h
 *   from raw samples (the measured hour), over 24 h from 1-minute rollups (after updateRollups,
 *   timed), per minute;
 * - bytes per sample: the raw tables' size on disk (SQLite: the file; PostgreSQL:
 *   pg_total_relation_size of the partitions, indexes included) over the rows;
 * - retention of those days: SQLite deletes rows (BENCH_SQLITE_RETENTION=0 skips it: at a day
 *   of 1,000 nodes that is a quarter of an hour here), PostgreSQL drops partitions.
 * The data sits three days back (whole UTC days), so retention of one day removes all of it.
 * The issue's size is 1,000 nodes × 24 h (BENCH_HOURS=24); the default is 2 h on this machine.
 */
import { spawn } from 'node:child_process';
import { closeSync, fsyncSync, ftruncateSync, openSync, statSync, unlinkSync, writeSync } from 'node:fs';
import { loadavg, userInfo } from 'node:os';
import { join } from 'node:path';
import type { NodeSpec } from '../shared/domain/index.js';
import { openDb, sqliteStore, type NodeReadings, type RoundWrite, type Store } from '../shared/store/index.js';
import type { Db } from '../shared/store/db.js';
import { ensurePartitions } from '../shared/store/pgPartitions.js';
import { ROLLUP_LEVELS, ROLLUP_SERIES } from '../shared/store/rollups.js';
import { openPgStore, type PgStore } from '../shared/store/pgStore.js';
import { PG_BIN, startPostgres, type TestPostgres } from '../test/harness/postgres.js';

const NODES = Number(process.env.BENCH_NODES ?? 1000);
const HOURS = Number(process.env.BENCH_HOURS ?? 2);
const PANELS = Number(process.env.BENCH_PANELS ?? 50);
const MEASURED_HOURS = Math.min(HOURS, Number(process.env.BENCH_MEASURED_HOURS ?? 1));
const SQLITE_RETENTION = process.env.BENCH_SQLITE_RETENTION !== '0';
/** BENCH_STORES=postgres: PostgreSQL alone (no same-run anchor: the summary says so). */
const STORES = (process.env.BENCH_STORES ?? 'sqlite,postgres').split(',');
/** 2 temperatures, 5 cpu rows (all + 4 cores), load, memory, 2 mounts, 2 interfaces. */
const SAMPLES_PER_NODE = 13;
const DAY = 86400;

/** `?` placeholders as PostgreSQL's `$1, $2, …`. */
const dollars = (sql: string) => {
  let i = 0;
  return sql.replace(/\?/g, () => `$${++i}`);
};
const quantile = (xs: number[], q: number) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(q * xs.length))] ?? NaN;

export function roundOf(t: number, nodes: string[]): RoundWrite {
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
  /** CPU seconds per sample of the measured hours: this process, and the PostgreSQL server (0 for SQLite). */
  hubCpuUsPerSample: number;
  serverCpuUsPerSample: number;
  fillSeconds: number;
  fillRows: number;
  rollupSeconds: number;
  p95_1hMs: number;
  p95_24hMs: number;
  bytesPerSample: number;
  retentionMs: number | undefined;
  /** PostgreSQL: where the retention's time went, beside the filesystem's own truncate. */
  retentionDetail?: string;
  rows: number;
}

/** The rows roundOf writes, for every node and 10-second time in [from, to), as one INSERT … SELECT per table (the fill). */
export function fillStatements(times: string): string[] {
  // x as roundOf: (t / 10 + node index) % 100; node-N has index N.
  const g = `ts AS (${times}), n AS (SELECT id, CAST(substr(name, 6) AS INTEGER) AS i FROM nodes), g AS (SELECT n.id, ts.t, (ts.t / 10 + n.i) % 100 AS x FROM ts CROSS JOIN n)`;
  const list = (name: string, xs: string[]) => `(${xs.map((x) => `SELECT '${x}' AS ${name}`).join(' UNION ALL ')})`;
  return [
    `WITH ${g} INSERT INTO temperature (node_id, time, sensor, celsius) SELECT id, t, 'thermal_zone0', 40 + x % 20 FROM g UNION ALL SELECT id, t, 'hwmon0/temp1', 45 + x % 15 FROM g`,
    `WITH ${g}, c AS ${list('cpu', ['all', 'cpu0', 'cpu1', 'cpu2', 'cpu3'])}
     INSERT INTO cpu (node_id, time, cpu, usage_percent, user_percent, nice_percent, system_percent, iowait_percent, irq_percent, softirq_percent, steal_percent, idle_percent, interval_seconds)
     SELECT id, t, c.cpu, x, x / 2.0, 0, x / 4.0, 1, 0, 0.5, 0, 100 - x, 10 FROM g CROSS JOIN c`,
    `WITH ${g} INSERT INTO load (node_id, time, load1, load5, load15) SELECT id, t, x / 50.0, x / 60.0, x / 70.0 FROM g`,
    `WITH ${g} INSERT INTO memory (node_id, time, mem_total_bytes, mem_free_bytes, mem_available_bytes, buffers_bytes, cached_bytes, swap_total_bytes, swap_free_bytes, used_percent)
     SELECT id, t, 8000000000, 2000000000 + x * 1000000, 4000000000, 100000000, 2000000000, 0, 0, 50 + x / 10.0 FROM g`,
    `WITH ${g}, m AS ${list('mount_point', ['/', '/data'])}
     INSERT INTO storage (node_id, time, mount_point, total_bytes, used_bytes, available_bytes, used_percent) SELECT id, t, m.mount_point, 100000000000, 50000000000 + t, 50000000000 - t, 50 FROM g CROSS JOIN m`,
    `WITH ${g}, f AS ${list('iface', ['eth0', 'wlan0'])}
     INSERT INTO network (node_id, time, iface, rx_bytes, rx_packets, rx_errors, rx_drops, tx_bytes, tx_packets, tx_errors, tx_drops,
       rx_bytes_per_second, tx_bytes_per_second, rx_packets_per_second, tx_packets_per_second, rx_errors_per_second, tx_errors_per_second, rx_drops_per_second, tx_drops_per_second)
     SELECT id, t, f.iface, t * 1000, t, 0, 0, t * 500, t, 0, 0, 1000, 500, 1, 1, 0, 0, 0, 0 FROM g CROSS JOIN f`,
  ];
}

/** The raw tables roundOf writes (the rollups' other series have no rows here). */
export const FILLED_TABLES = ['temperature', 'cpu', 'load', 'memory', 'storage', 'network'] as const;

/**
 * The rollup job's rows for the fill, as one INSERT … SELECT per rollup level and raw table for
 * [@from, @to): the same series, values, labels, buckets and weighted averages as rollups.ts
 * rawStatements / rollupStatements (test/benchFill.test.ts checks them row for row against
 * updateRollups). The job's own chunks (about 10 ms each, a minute of this fleet) touch every
 * node's and series' place in the rollup table's key once a minute, which made a filled day's
 * rollups take over an hour on SQLite; and it reads a raw table once per series. Here the raw
 * table is read once per hour: each (node, label, minute) group aggregates every series of the
 * table, then a CROSS JOIN with the series turns the columns into rows (a series with no value in
 * the group, or outside its `where`, has count 0 and is left out, as the job's IS NOT NULL does).
 * `sqlite`: each node's range sought through `node_id IN (SELECT id FROM nodes)`, as the job does.
 */
export function rollupFillStatements(level: '1m' | '1h' | '6h', sqlite: boolean): string[] {
  const nodes = sqlite ? 'node_id IN (SELECT id FROM nodes) AND ' : '';
  const i = ROLLUP_LEVELS.findIndex((l) => l.level === level);
  const { table, bucketSeconds: b } = ROLLUP_LEVELS[i]!;
  const cols = `INSERT INTO ${table} (node_id, series, time, label, min, avg, max, count)`;
  if (i > 0) {
    const source = ROLLUP_LEVELS[i - 1]!.table;
    return [
      `${cols} SELECT node_id, series, (time / ${b}) * ${b}, label, MIN(min), SUM(avg * count) / SUM(count), MAX(max), SUM(count)
       FROM ${source} WHERE ${nodes}time >= @from AND time < @to GROUP BY node_id, series, label, time / ${b}`,
    ];
  }
  return FILLED_TABLES.map((t) => {
    const series = ROLLUP_SERIES.filter((s) => s.table === t);
    const label = series[0]!.label;
    if (series.some((s) => s.label !== label)) throw new Error(`BUG: ${t}'s rollup series have different labels`);
    const v = (s: (typeof series)[number]) => (s.where ? `CASE WHEN ${s.where} THEN ${s.value} END` : s.value);
    const aggs = series.map((s, k) => `MIN(${v(s)}) AS min${k}, AVG(${v(s)}) AS avg${k}, MAX(${v(s)}) AS max${k}, COUNT(${v(s)}) AS n${k}`).join(', ');
    const pick = (col: string) => `CASE s.k ${series.map((_, k) => `WHEN ${k} THEN a.${col}${k}`).join(' ')} END`;
    const list = series.map((s, k) => `SELECT ${k} AS k, '${s.series}' AS series`).join(' UNION ALL ');
    return `${cols}
      SELECT a.node_id, s.series, a.b, a.label, ${pick('min')}, ${pick('avg')}, ${pick('max')}, ${pick('n')}
      FROM (SELECT node_id, (time / ${b}) * ${b} AS b, ${label} AS label, ${aggs}
            FROM ${t} WHERE ${nodes}time >= @from AND time < @to GROUP BY node_id, ${label === "''" ? '' : `${label}, `}time / ${b}) a
      CROSS JOIN (${list}) s
      WHERE ${pick('n')} > 0`;
  });
}

type Statements = readonly [sql: string, params: Record<string, number>][];

export interface Target {
  name: string;
  store: Store;
  /** Statements, each with its @named integer parameters, run in one transaction. */
  run: (statements: Statements) => Promise<void>;
  /** The fill's hours, a transaction each, run elsewhere than this process's event loop (else `run` an hour at a time). */
  runHours?: (hours: readonly Statements[]) => Promise<void>;
  /** fillStatements in this store's SQL. */
  rawFill: string[];
  /** Statements at the end of each filled hour's transaction, and a call when the fill is done: what the server's background work would have done by then. */
  afterFillHour?: string[];
  afterFill?: () => Promise<void>;
  sizeBytes: () => Promise<number>;
  panel: (node: number, from: number, to: number, rollup: boolean) => Promise<unknown>;
  /** CPU seconds of the database server so far (0: in this process). */
  serverCpuSeconds: () => number;
  /** After the retention: its parts, and an anchor for them (`bytes`: the raw tables' size before it). */
  retentionDetail?: (bytes: number) => Promise<string>;
}

/** The raw rows roundOf writes for [from, to), one transaction. */
export const fillRaw = (x: Target, from: number, to: number) => x.run(x.rawFill.map((sql) => [sql, { from, to }]));

/**
 * The fill of [from, to) (whole hours from a UTC midnight), an hour a transaction: the raw rows,
 * then that hour's 1-minute and 1-hour rollups, each 6-hour bucket once whole; the rollup job's
 * watermarks set where the fill ends, so updateRollups goes on from there as it would have.
 */
export async function fillHours(x: Target, from: number, to: number, log: (msg: string) => void = () => {}): Promise<void> {
  const sqlite = x.store.kind === 'sqlite';
  const [m1, h1, h6] = (['1m', '1h', '6h'] as const).map((l) => rollupFillStatements(l, sqlite));
  const hours: Statements[] = [];
  for (let h = from; h < to; h += 3600) {
    const hour = { from: h, to: Math.min(to, h + 3600) };
    const statements = [...x.rawFill, ...m1!, ...h1!, ...(x.afterFillHour ?? [])].map((sql): [string, Record<string, number>] => [sql, hour]);
    if (hour.to % 21600 === 0) statements.push([h6![0]!, { from: hour.to - 21600, to: hour.to }]);
    hours.push(statements);
  }
  if (x.runHours) await x.runHours(hours);
  else {
    for (const [i, statements] of hours.entries()) {
      await x.run(statements);
      if (i % 6 === 0) log(`fill ${i + 1} h of ${hours.length}`);
    }
  }
  const mark = 'INSERT INTO rollup_state (level, done_until_unix_seconds) VALUES (@level, @until) ON CONFLICT (level) DO UPDATE SET done_until_unix_seconds = excluded.done_until_unix_seconds';
  const marks = ROLLUP_LEVELS.map(({ level, bucketSeconds }): [string, Record<string, number>] => [mark.replace('@level', `'${level}'`), { until: Math.floor(to / bucketSeconds) * bucketSeconds }]);
  await x.run(marks.filter(([, p]) => p.until! > from));
  await x.afterFill?.();
}

interface Filled {
  fillSeconds: number;
  fillRows: number;
}

const logOf = (name: string) => (msg: string) => console.error(`${new Date().toISOString().slice(11, 19)} ${name}: ${msg} (load average ${loadavg()[0]!.toFixed(1)})`);
const nodeNames = () => Array.from({ length: NODES }, (_, i) => `node-${i}`);
/** The data's first second: a UTC midnight three days back, so retention of a day removes all of it. */
const START = Math.floor(Date.now() / 1000 / DAY) * DAY - 3 * DAY;
const END = START + HOURS * 3600;
const MEASURED_FROM = END - MEASURED_HOURS * 3600;

/** The fill of one store (its nodes synced): the hours before the measured ones, raw rows and their rollups, an hour a transaction. */
async function fillOne(x: Target): Promise<Filled> {
  const log = logOf(x.name);
  const f0 = performance.now();
  await fillHours(x, START, MEASURED_FROM, log);
  const fillSeconds = (performance.now() - f0) / 1000;
  const fillRows = ((MEASURED_FROM - START) / 10) * NODES * SAMPLES_PER_NODE;
  log(`filled ${fillRows} rows in ${fillSeconds.toFixed(0)} s, rollups included`);
  return { fillSeconds, fillRows };
}

/** The measured part of one store, on its filled tables. */
async function runOn(x: Target, { fillSeconds, fillRows }: Filled): Promise<Result> {
  const { store } = x;
  const log = logOf(x.name);
  const names = nodeNames();
  const [start, end, measuredFrom] = [START, END, MEASURED_FROM];
  log(`writing ${MEASURED_HOURS} h through Store.writeRound onto ${(start - measuredFrom) / -3600} h of fill`);
  // The measured hours: round after round, as a hub writes them.
  const rounds = (MEASURED_HOURS * 3600) / 10;
  const cpu0 = process.cpuUsage();
  const server0 = x.serverCpuSeconds();
  const t0 = performance.now();
  for (let r = 0; r < rounds; r++) await store.writeRound(roundOf(measuredFrom + r * 10, names));
  const seconds = (performance.now() - t0) / 1000;
  const cpu = process.cpuUsage(cpu0);
  const serverSeconds = x.serverCpuSeconds() - server0;
  const rows = rounds * NODES * SAMPLES_PER_NODE;
  log(`ingest ${(rows / seconds).toFixed(0)} samples/s; rollups`);
  const r0 = performance.now();
  await store.updateRollups(end + 120);
  const rollupSeconds = (performance.now() - r0) / 1000;
  log(`rollups ${rollupSeconds.toFixed(0)} s; panels`);
  const p1: number[] = [];
  const p24: number[] = [];
  for (let i = 0; i < PANELS; i++) {
    const node = 1 + Math.floor(Math.random() * NODES);
    let t = performance.now();
    await x.panel(node, end - 3600, end, false);
    p1.push(performance.now() - t);
    t = performance.now();
    await x.panel(node, end - DAY, end, true);
    p24.push(performance.now() - t);
  }
  const bytes = await x.sizeBytes();
  let retentionMs: number | undefined;
  if (store.kind === 'postgres' || SQLITE_RETENTION) {
    log('retention');
    const d0 = performance.now();
    await store.applyRetention({ rawDays: 1, rollup1mDays: 0, rollup1hDays: 0, rollup6hDays: 0 }, Math.floor(Date.now() / 1000));
    retentionMs = performance.now() - d0;
  }
  const retentionDetail = await x.retentionDetail?.(bytes);
  return {
    samplesPerSecond: rows / seconds,
    hubCpuUsPerSample: ((cpu.user + cpu.system) / rows),
    serverCpuUsPerSample: (serverSeconds * 1e6) / rows,
    fillSeconds,
    fillRows,
    rollupSeconds,
    p95_1hMs: quantile(p1, 0.95),
    p95_24hMs: quantile(p24, 0.95),
    bytesPerSample: bytes / (rows + fillRows),
    retentionMs,
    retentionDetail,
    rows,
  };
}

/**
 * The bench's PostgreSQL: durability as PostgreSQL ships it (fsync, synchronous_commit,
 * full_page_writes on); shared buffers and WAL sized for a day of 1,000 nodes (docs/postgres.md,
 * "Server settings").
 */
export const BENCH_PG_SETTINGS = { shared_buffers: '1GB', max_wal_size: '4GB', checkpoint_timeout: '15min' };

/** A store BENCH_STORES leaves out: every figure NaN. */
const NOT_RUN: Result = { samplesPerSecond: NaN, hubCpuUsPerSample: NaN, serverCpuUsPerSample: NaN, fillSeconds: NaN, fillRows: NaN, rollupSeconds: NaN, p95_1hMs: NaN, p95_24hMs: NaN, bytesPerSample: NaN, retentionMs: undefined, rows: 0 };

/** Both stores, same data; returns the figures and prints them. */
const turn = () => new Promise((r) => setImmediate(r));
type PanelSql = (rollup: boolean) => string;
const NO_PANEL: PanelSql = () => 'SELECT 1';

/** The bench's SQLite side: a file (or ':memory:'), the fill run through better-sqlite3. */
export function sqliteTarget(db: Db, path: string, panelSql: PanelSql = NO_PANEL): Target {
  return {
    name: 'sqlite',
    store: sqliteStore(db),
    rawFill: fillStatements('SELECT @from AS t UNION ALL SELECT t + 10 FROM ts WHERE t + 10 < @to').map((sql) => sql.replace('WITH ts', 'WITH RECURSIVE ts')),
    // After a turn of the event loop: the other store's fill, run at the same time, goes on.
    run: async (statements) => {
      await turn();
      db.transaction(() => statements.forEach(([sql, params]) => db.prepare(sql).run(params)))();
    },
    sizeBytes: async () => {
      db.pragma('wal_checkpoint(TRUNCATE)');
      return statSync(path).size;
    },
    panel: async (node, from, to, rollup) => db.prepare(panelSql(rollup)).all(node, from, to),
    serverCpuSeconds: () => 0,
  };
}

/** The statements with their parameters written in (integers only), `;`-separated. */
const literal = (statements: Statements) => statements.map(([q, p]) => q.replace(/@(\w+)/g, (_, k: string) => String(Math.trunc(p[k]!)))).join(';\n');

async function ensurePartitionsFor(store: PgStore, statements: Statements) {
  const times = statements.flatMap(([, p]) => (p.from === undefined ? [] : [p.from, p.to ?? p.from]));
  if (times.length) await ensurePartitions(store.pg, Math.min(...times), Math.max(...times));
}

/** psql (as the harness runs it: the cluster's owner on its socket) reading `script` on stdin; rejects on an error, with psql's words. */
function psqlScript(server: TestPostgres, script: string): Promise<void> {
  const args = ['-h', server.dir, '-p', String(server.port), '-U', 'edgefleet', '-d', 'edgefleet', '-X', '-q', '-v', 'ON_ERROR_STOP=1', '-o', '/dev/null'];
  const [cmd, argv] = userInfo().uid === 0 ? ['runuser', ['-u', 'postgres', '--', join(PG_BIN, 'psql'), ...args]] : [join(PG_BIN, 'psql'), args];
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, argv, { stdio: ['pipe', 'ignore', 'pipe'] });
    let err = '';
    child.stderr.setEncoding('utf8').on('data', (d: string) => (err += d.slice(0, 4000)));
    child.on('error', reject);
    child.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`psql fill exited ${code}: ${err.trim()}`))));
    child.stdin.end(script);
  });
}

/** The bench's PostgreSQL side; `server` for its CPU time (0 without) and the fill by psql. */
export function pgTarget(store: PgStore, panelSql: PanelSql = NO_PANEL, server?: TestPostgres): Target {
  return {
    name: 'postgres',
    store,
    rawFill: fillStatements('SELECT generate_series(@from::bigint, @to::bigint - 1, 10) AS t'),
    // One simple query for the whole transaction, the integers written in.
    run: async (statements) => {
      await ensurePartitionsFor(store, statements);
      // Several statements in one Query message are one transaction (PostgreSQL's simple query protocol).
      await store.pg.pool.query(literal(statements));
    },
    // With the server at hand, the fill's hours as one psql script: it runs on its own while this
    // process runs the SQLite side's fill (through the pool, each hour's answer, and every hop of
    // the pool's, waited for a SQLite statement to end).
    runHours: server
      ? async (hours) => {
          await ensurePartitionsFor(store, hours.flat());
          await psqlScript(server, hours.map((h) => `BEGIN;\n${literal(h)};\nCOMMIT;\n`).join(''));
        }
      : undefined,
    // autovacuum's work on a table that only grows, which a fill at this pace outruns: its BRIN
    // ranges summarized (unsummarized ones match every query, and the rollup job's hour would
    // read the whole day's partition), and its statistics.
    afterFillHour: [`SELECT brin_summarize_new_values(c.oid) FROM pg_class c JOIN pg_am a ON a.oid = c.relam WHERE a.amname = 'brin' AND c.relkind = 'i'`],
    afterFill: async () => {
      await store.pg.query('ANALYZE');
    },
    sizeBytes: async () => {
      await store.pg.query('ANALYZE');
      const [r] = await store.pg.query<{ b: number }>(
        `SELECT SUM(pg_total_relation_size(i.inhrelid))::bigint AS b FROM pg_inherits i JOIN pg_class p ON p.oid = i.inhparent
         WHERE p.relname = ANY(ARRAY['temperature', 'cpu', 'load', 'memory', 'storage', 'network'])`,
      );
      return r!.b;
    },
    panel: async (node, from, to, rollup) => store.pg.query(dollars(panelSql(rollup)), [node, from, to]),
    serverCpuSeconds: () => server?.cpuSeconds() ?? 0,
    retentionDetail: server
      ? async (bytes) => {
          const { detachMs, dropMs, tables } = store.lastRetention;
          const perGiB = truncateMsPerGiB(server.dir);
          return `detach (the parents locked) ${detachMs!.toFixed(0)} ms, then the drop of the ${tables} detached tables ${dropMs!.toFixed(0)} ms (nothing shared locked); the filesystem's own truncate of a just-written file ${perGiB.toFixed(0)} ms per GiB, ${((perGiB * bytes) / 2 ** 30).toFixed(0)} ms for the raw tables' ${(bytes / 2 ** 30).toFixed(1)} GiB`;
        }
      : undefined,
  };
}

/** The anchor of a partition drop: ftruncate to 0 of a just-written, fsynced 2 GiB file in `dir` (the kernel freeing its pages and extents), per GiB. */
function truncateMsPerGiB(dir: string): number {
  const path = join(dir, 'truncate-anchor.bin');
  const chunk = Buffer.alloc(16 * 2 ** 20, 1);
  const fd = openSync(path, 'w');
  try {
    for (let i = 0; i < 128; i++) writeSync(fd, chunk);
    fsyncSync(fd);
    const t0 = performance.now();
    ftruncateSync(fd, 0);
    return (performance.now() - t0) / 2;
  } finally {
    closeSync(fd);
    unlinkSync(path);
  }
}

export async function benchIngest(dir: string): Promise<{ sqlite: Result; pg: Result }> {
  const path = join(dir, 'ingest.db');
  const db = openDb(path);
  const panelSql = (rollup: boolean) =>
    rollup
      ? "SELECT time, avg FROM rollup_1m WHERE node_id = ? AND series = 'cpu.usage_percent' AND label = 'all' AND time >= ? AND time < ? ORDER BY time"
      : "SELECT (time / 60) * 60 AS t, AVG(usage_percent) FROM cpu WHERE node_id = ? AND cpu = 'all' AND time >= ? AND time < ? GROUP BY 1 ORDER BY 1";
  const server = await startPostgres({ server: BENCH_PG_SETTINGS });
  let sqlite = NOT_RUN;
  let pg = NOT_RUN;
  try {
    // The fill's hour is one query whose answer waits while this process runs a SQLite statement:
    // deadlines past the defaults (a pool's connect, query_timeout, count until the answer is read).
    const store = (await openPgStore(server.url, { statementTimeoutMs: 20 * 60_000, connectTimeoutMs: 20 * 60_000 })) as PgStore;
    const targets = [...(STORES.includes('sqlite') ? [sqliteTarget(db, path, panelSql)] : []), ...(STORES.includes('postgres') ? [pgTarget(store, panelSql, server)] : [])];
    // Both fills at once (not measured): SQLite's in this process, PostgreSQL's by a psql script
    // in its server, on the machine's two cores.
    // What takes round trips first, one store after the other (a PostgreSQL transaction waiting on
    // this process while it runs a SQLite statement would wait for every one): the nodes, the partitions.
    const specs: NodeSpec[] = nodeNames().map((name) => ({ name, host: name, port: 22, connection: 'ssh', groups: [], vars: {} }));
    for (const x of targets) await x.store.syncNodes(specs, START);
    await ensurePartitions(store.pg, START, END);
    const filled = await Promise.all(targets.map(fillOne));
    // What the fill left for PostgreSQL's checkpointer is written before anything is measured.
    server.psql('CHECKPOINT');
    for (const [i, x] of targets.entries()) {
      const r = await runOn(x, filled[i]!);
      if (x.name === 'sqlite') sqlite = r;
      else pg = r;
    }
    await store.close();
  } finally {
    db.close();
    await server.close();
  }
  const ms = (v: number | undefined) => (v === undefined ? 'not measured (BENCH_SQLITE_RETENTION=0)' : `${v.toFixed(0)} ms`);
  const line = (name: string, r: Result) =>
    `${name}: ingest ${r.samplesPerSecond.toFixed(0)} samples/s (${r.rows} rows; CPU per sample: this process ${r.hubCpuUsPerSample.toFixed(2)} µs` +
    (r.serverCpuUsPerSample ? `, server ${r.serverCpuUsPerSample.toFixed(2)} µs` : '') +
    `), rollups ${r.rollupSeconds.toFixed(0)} s, panel p95 1 h ${r.p95_1hMs.toFixed(1)} ms, 24 h ${r.p95_24hMs.toFixed(1)} ms, ${r.bytesPerSample.toFixed(1)} bytes/sample, retention of the data ${ms(r.retentionMs)}${r.retentionDetail ? ` (${r.retentionDetail})` : ''}`;
  const fill = (name: string, r: Result) => `${name}: fill (not measured) ${r.fillRows} rows in ${r.fillSeconds.toFixed(0)} s, rollups included, both stores at once`;
  console.log(
    `${NODES} nodes × ${HOURS} h of 10-second rounds, ${SAMPLES_PER_NODE} samples per node and round, both stores; ` +
      `the first ${HOURS - MEASURED_HOURS} h filled by bulk SQL, the last ${MEASURED_HOURS} h written round by round through Store.writeRound and measured:`,
  );
  console.log(fill('sqlite', sqlite));
  console.log(fill('postgres', pg));
  console.log(line('sqlite', sqlite));
  console.log(line('postgres', pg));
  const retention = sqlite.retentionMs && pg.retentionMs ? `, retention ${(pg.retentionMs / sqlite.retentionMs).toFixed(3)}` : '';
  console.log(
    `ratio (postgres / sqlite, the anchor): ingest ${(pg.samplesPerSecond / sqlite.samplesPerSecond).toFixed(2)}, CPU per sample (hub + server) ${((pg.hubCpuUsPerSample + pg.serverCpuUsPerSample) / sqlite.hubCpuUsPerSample).toFixed(2)}, p95 24 h ${(pg.p95_24hMs / sqlite.p95_24hMs).toFixed(2)}${retention}`,
  );
  return { sqlite, pg };
}
