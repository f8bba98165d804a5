/**
 * bench:store — the store under ordinary database conditions, each beside an anchor measured in
 * the same run (medians of BENCH_RUNS runs; docs/reliability.md, "The store"):
 *
 * 1. A round while another process holds the write lock for BENCH_LOCK_MS: how long after the
 *    release the round lands, beside the anchor: the same round with no lock (its whole time).
 * 2. GET /health on a real hub while detectAnomalies works through a backlog (BENCH_IFACES
 *    interfaces × 8 rates, a day every 2 minutes), beside the anchor: the same hub's /health
 *    with no backlog. Requests go one after another, 50 ms apart.
 *
 * 3. Ingest, panel p95, bytes per sample and retention on both stores, SQLite and PostgreSQL
 *    (bench/storeIngest.ts; BENCH_NODES, BENCH_HOURS). The last line:
 *    `bench:store sqlite_samples_per_s=… pg_samples_per_s=… pg_p95_24h_ms=… pg_bytes_per_sample=…`
 *
 *   npm run bench:store
 *   BENCH_RUNS=5 BENCH_IFACES=400 npm run bench:store
 *   BENCH_STORE_PARTS=ingest BENCH_NODES=1000 BENCH_HOURS=24 npm run bench:store
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { inventoryNodes, runCollection } from '../shared/collect/collection.js';
import { loadConfig } from '../shared/config/config.js';
import { silentLogger } from '../shared/domain/index.js';
import { closeResources, poolFor } from '../shared/handler/resources.js';
import { openDb, syncNodes } from '../shared/store/index.js';
import { sleep } from '../test/harness/hub.js';
import { getJson, makeProcRoot, startHub } from '../test/harness/hubProcess.js';
import { benchIngest } from './storeIngest.js';

const RUNS = Number(process.env.BENCH_RUNS ?? 3);
const LOCK_MS = Number(process.env.BENCH_LOCK_MS ?? 2000);
const IFACES = Number(process.env.BENCH_IFACES ?? 250);
const ROOT = join(import.meta.dirname, '..');

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};
const quantile = (xs: number[], q: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(q * s.length))] ?? NaN;
};
const f = (ms: number) => `${ms.toFixed(0)} ms`;

const PARTS = (process.env.BENCH_STORE_PARTS ?? 'lock,health,ingest').split(',');
const dir = mkdtempSync(join(tmpdir(), 'edgefleet-bench-store-'));
try {
  if (PARTS.includes('lock')) await lockPart();
  if (PARTS.includes('health')) await healthPart();
  if (PARTS.includes('ingest')) {
    // 3. Both stores, the same run (bench/storeIngest.ts); the last line sums it up.
    const { sqlite, pg } = await benchIngest(dir);
    console.log(`bench:store sqlite_samples_per_s=${sqlite.samplesPerSecond.toFixed(0)} pg_samples_per_s=${pg.samplesPerSecond.toFixed(0)} pg_p95_24h_ms=${pg.p95_24hMs.toFixed(1)} pg_bytes_per_sample=${pg.bytesPerSample.toFixed(1)}`);
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}

async function lockPart() {
  // 1. A held write lock.
  const inventory = join(dir, 'lock.ini');
  writeFileSync(inventory, `n1 ansible_connection=local edgefleet_proc_root=${makeProcRoot(join(dir, 'lock-node'), 100)}\n`);
  const config = loadConfig({ env: {}, cwd: dir, overrides: { inventory, db: join(dir, 'lock.db'), 'collect.kinds': ['memory', 'network'] } });
  const db = openDb(config.db);
  const round = () => runCollection({ config, nodes: inventoryNodes(config), db, pool: poolFor(config), log: silentLogger, kinds: ['memory', 'network'] });
  await round();
  const holder = join(dir, 'hold.cjs');
  writeFileSync(
    holder,
    `const db = new (require(${JSON.stringify(join(ROOT, 'node_modules', 'better-sqlite3'))}))(process.argv[2]);
     db.exec('BEGIN IMMEDIATE'); db.prepare('UPDATE nodes SET updated_unix_seconds = updated_unix_seconds').run();
     process.stdout.write('locked\\n');
     Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, Number(process.argv[3]));
     db.exec('COMMIT'); process.stdout.write('released ' + Date.now() + '\\n');`,
  );
  const anchorMs: number[] = [];
  const afterReleaseMs: number[] = [];
  for (let run = 0; run < RUNS; run++) {
    const t0 = performance.now();
    await round();
    anchorMs.push(performance.now() - t0);
    const child = spawn(process.execPath, [holder, config.db, String(LOCK_MS)], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
    while (!out.includes('locked')) await sleep(5);
    const r = await round();
    const landed = Date.now();
    await new Promise((resolve) => child.on('exit', resolve));
    if (!r.stored) throw new Error(`round not stored: ${r.storeError}`);
    afterReleaseMs.push(landed - Number(/released (\d+)/.exec(out)![1]));
  }
  db.close();
  await closeResources();
  console.log(`write lock held ${LOCK_MS} ms: the round lands ${f(median(afterReleaseMs))} after the release (median of ${RUNS}); anchor, the round unlocked: ${f(median(anchorMs))}; ratio ${(median(afterReleaseMs) / median(anchorMs)).toFixed(2)}`);

}

async function healthPart() {
  // 2. GET /health beside a detector backlog.
  const backlogInventory = join(dir, 'backlog.ini');
  writeFileSync(backlogInventory, `big ansible_connection=local edgefleet_proc_root=${makeProcRoot(join(dir, 'backlog-node'), IFACES)}\n`);
  const env = { EDGEFLEET_COLLECT_KINDS: 'memory,network' };
  const anchorP50: number[] = [];
  const anchorP99: number[] = [];
  const p50: number[] = [];
  const p99: number[] = [];
  const worst: number[] = [];
  const detectMs: number[] = [];
  for (let run = 0; run < RUNS; run++) {
    const empty = join(dir, `empty-${run}.db`);
    let hub = await startHub({ cwd: dir, inventory: backlogInventory, db: empty, intervalSeconds: 1, env });
    const quiet: number[] = [];
    for (const end = Date.now() + 3000; Date.now() < end; await sleep(50)) quiet.push((await getJson(hub.base, '/health')).ms);
    await hub.kill();
    anchorP50.push(quantile(quiet, 0.5));
    anchorP99.push(quantile(quiet, 0.99));

    const path = join(dir, `backlog-${run}.db`);
    const now = Math.floor(Date.now() / 1000);
    const bdb = openDb(path);
    syncNodes(bdb, [{ name: 'big', host: 'big', port: 22, connection: 'local', groups: [], vars: {} }], now);
    const ins = bdb.prepare(
      `INSERT INTO network (node_id, time, iface, rx_bytes, rx_packets, rx_errors, rx_drops, tx_bytes, tx_packets, tx_errors, tx_drops,
         rx_bytes_per_second, tx_bytes_per_second, rx_packets_per_second, tx_packets_per_second, rx_errors_per_second, tx_errors_per_second, rx_drops_per_second, tx_drops_per_second)
       VALUES (1, ?, ?, 0, 0, 0, 0, 0, 0, 0, 0, ?, ?, ?, ?, 0, 0, 0, 0)`,
    );
    bdb.transaction(() => {
      for (let t = now - 86_000; t < now - 60; t += 120) for (let i = 0; i < IFACES; i++) ins.run(t, `veth${i}`, (t % 97) + i, t % 89, t % 13, 5);
    })();
    bdb.close();
    hub = await startHub({ cwd: dir, inventory: backlogInventory, db: path, intervalSeconds: 1, env });
    const busy: number[] = [];
    let done: Record<string, unknown> | undefined;
    for (const end = Date.now() + 120_000; !done && Date.now() < end; await sleep(50)) {
      busy.push((await getJson(hub.base, '/health')).ms);
      done = hub.logs().find((l) => l.msg === 'anomalies' && l.fn === 'detectAnomalies');
    }
    await hub.kill();
    if (!done) throw new Error('detectAnomalies did not finish within 120 s');
    detectMs.push(done.durationMs as number);
    p50.push(quantile(busy, 0.5));
    p99.push(quantile(busy, 0.99));
    worst.push(Math.max(...busy));
  }
  console.log(
    `GET /health beside detectAnomalies over ${IFACES * 8} series × a day (${f(median(detectMs))} of detection): p50 ${f(median(p50))}, p99 ${f(median(p99))}, worst ${f(median(worst))} (medians of ${RUNS}); ` +
      `anchor, no backlog: p50 ${f(median(anchorP50))}, p99 ${f(median(anchorP99))}; ratio p99 ${(median(p99) / median(anchorP99)).toFixed(1)}`,
  );
}
