/**
 * Fault suite, the store (docs/reliability.md, "The store"): rounds keyed by round, a write lock
 * held by another process, a node with too many series, retention of anomalies and of dead
 * series. Real SQLite files, the local transport over fake proc roots, other processes holding
 * the locks. Each case: the fault, what the user sees, what is stored.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import Database from 'better-sqlite3';
import { loadConfig, type Config } from '../../shared/config/config.js';
import { inventoryNodes, runCollection } from '../../shared/collect/collection.js';
import { detectAnomalies } from '../../shared/detect/anomalies.js';
import { silentLogger } from '../../shared/domain/index.js';
import { closeResources, poolFor } from '../../shared/handler/resources.js';
import { applyRetention, migrate, openDb, syncNodes, type Db } from '../../shared/store/index.js';
import { MIGRATIONS } from '../../shared/store/migrations.js';
import { makeProcRoot } from '../harness/hubProcess.js';

const ROOT = join(import.meta.dirname, '..', '..');
let dir: string;
before(() => {
  dir = mkdtempSync(join(tmpdir(), 'edgefleet-faults-store-'));
});
after(async () => {
  await closeResources();
  rmSync(dir, { recursive: true, force: true });
});

/** An inventory of local nodes, each on its own fake proc root with `interfaces` veths. */
function fleet(name: string, nodes: Record<string, number>): { config: Config; db: Db } {
  const lines = ['[lab]'];
  for (const [node, interfaces] of Object.entries(nodes)) {
    lines.push(`${node} ansible_connection=local edgefleet_proc_root=${makeProcRoot(join(dir, name, node), interfaces)}`);
  }
  const inventory = join(dir, name, 'inventory.ini');
  writeFileSync(inventory, lines.join('\n') + '\n');
  const config = loadConfig({ env: {}, cwd: dir, overrides: { inventory, db: join(dir, name, 'edgefleet.db'), 'collect.kinds': ['memory', 'network'] } });
  return { config, db: openDb(config.db) };
}

const collect = (config: Config, db: Db) =>
  runCollection({ config, nodes: inventoryNodes(config), db, pool: poolFor(config), log: silentLogger, kinds: ['memory', 'network'] });

const count = (db: Db, sql: string, ...args: unknown[]) => (db.prepare(sql).get(...args) as { n: number }).n;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('faults: the store', () => {
  it('two rounds in one second keep both rounds\' collector_runs (keyed by round, not by second)', async () => {
    const { config, db } = fleet('same-second', { a: 2, b: 2 });
    // Start just after a second begins, so both rounds (a few ms each) fall in it.
    while (Date.now() % 1000 > 100) await sleep(5);
    const first = await collect(config, db);
    const second = await collect(config, db);
    const times = db.prepare('SELECT id, time FROM rounds ORDER BY id').all() as { id: number; time: number }[];
    assert.equal(times.length, 2);
    assert.equal(times[0]!.time, times[1]!.time, 'precondition: both rounds in the same second');
    assert.ok(first.stored && second.stored);
    // 2 rounds × 2 nodes × 2 kinds.
    assert.equal(count(db, 'SELECT COUNT(*) AS n FROM collector_runs'), 8);
    assert.deepEqual(db.prepare('SELECT round_id AS r, COUNT(*) AS n FROM collector_runs GROUP BY round_id ORDER BY round_id').all(), times.map((t) => ({ r: t.id, n: 4 })));
  });

  it('the rounds migration upgrades a database holding old collector_runs in place', () => {
    const path = join(dir, 'upgrade.db');
    const mine = MIGRATIONS.findIndex((m) => m.includes('CREATE TABLE rounds'));
    assert.ok(mine > 0);
    const old = new Database(path);
    migrate(old, MIGRATIONS.slice(0, mine));
    syncNodes(old, [{ name: 'n1', host: 'n1', port: 22, connection: 'ssh', groups: [], vars: {} }], 50);
    const ins = old.prepare('INSERT INTO collector_runs (node_id, time, kind, success, duration_ms, rows, error) VALUES (1, ?, ?, ?, 1.5, ?, ?)');
    ins.run(100, 'cpu', 1, 3, null);
    ins.run(100, 'memory', 0, 0, 'memory: no MemTotal');
    ins.run(110, 'cpu', 1, 3, null);
    old.close();

    const db = openDb(path);
    try {
      assert.equal(db.pragma('user_version', { simple: true }), MIGRATIONS.length);
      assert.equal(db.pragma('integrity_check', { simple: true }), 'ok');
      assert.deepEqual(db.prepare('SELECT time, nodes, kinds FROM rounds ORDER BY time').all(), [
        { time: 100, nodes: 1, kinds: 'cpu,memory' },
        { time: 110, nodes: 1, kinds: 'cpu' },
      ]);
      assert.deepEqual(
        db.prepare('SELECT c.time, c.kind, c.success, c.rows, c.error FROM collector_runs c JOIN rounds r ON r.id = c.round_id AND r.time = c.time ORDER BY c.time, c.kind').all(),
        [
          { time: 100, kind: 'cpu', success: 1, rows: 3, error: null },
          { time: 100, kind: 'memory', success: 0, rows: 0, error: 'memory: no MemTotal' },
          { time: 110, kind: 'cpu', success: 1, rows: 3, error: null },
        ],
      );
    } finally {
      db.close();
    }
  });

  it('a write lock held 3 s by another process: the round waits for it and lands, the event loop stays free', async () => {
    const { config, db } = fleet('locked', { a: 2 });
    await collect(config, db); // the node synced, so the round's only write is the round itself
    const holder = join(dir, 'locked', 'hold.cjs');
    writeFileSync(
      holder,
      `const db = new (require(${JSON.stringify(join(ROOT, 'node_modules', 'better-sqlite3'))}))(process.argv[2]);
       db.exec('BEGIN IMMEDIATE'); db.prepare('UPDATE nodes SET updated_unix_seconds = updated_unix_seconds').run();
       process.stdout.write('locked\\n');
       Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 3000);
       db.exec('COMMIT'); process.stdout.write('released ' + Date.now() + '\\n');`,
    );
    const child = spawn(process.execPath, [holder, config.db], { stdio: ['ignore', 'pipe', 'inherit'] });
    try {
      let out = '';
      // The holder's own clock (Date.now(), the same machine's) says when it committed.
      const released = new Promise<number>((resolve) => child.stdout.on('data', (d) => ((out += d), /released (\d+)/.test(out) && resolve(Number(/released (\d+)/.exec(out)![1])))));
      while (!out.includes('locked')) await sleep(10);
      const lockedAt = Date.now();
      // The event loop's longest stall while the round waits.
      let last = performance.now();
      let maxLagMs = 0;
      const ticker = setInterval(() => {
        maxLagMs = Math.max(maxLagMs, performance.now() - last - 10);
        last = performance.now();
      }, 10);
      const r = await collect(config, db);
      clearInterval(ticker);
      const landedAt = Date.now();
      const releasedAt = await released;
      assert.equal(r.stored, true, r.storeError);
      assert.ok(landedAt >= releasedAt, 'landed only once the lock was released');
      assert.ok(landedAt - lockedAt >= 2500 && landedAt - lockedAt < 5000, `waited ${Math.round(landedAt - lockedAt)} ms`);
      assert.ok(maxLagMs < 500, `event loop stalled ${Math.round(maxLagMs)} ms`);
      assert.equal(count(db, 'SELECT COUNT(*) AS n FROM rounds'), 2);
      assert.equal(count(db, "SELECT COUNT(*) AS n FROM nodes WHERE status = 'up'"), 1);
      console.log(`# lock 3 s: round landed ${Math.round(landedAt - releasedAt)} ms after release, ${Math.round(landedAt - lockedAt)} ms after start, max event-loop stall ${Math.round(maxLagMs)} ms`);
    } finally {
      child.kill('SIGKILL');
    }
  });

  it('a node with 20,000 interfaces: its round refused with the reason, nothing of it stored, the other node stored', async () => {
    const { config, db } = fleet('series', { huge: 20_000, small: 3 });
    const t0 = performance.now();
    const r = await collect(config, db);
    const ms = performance.now() - t0;
    const huge = r.perNode.find((n) => n.node === 'huge')!;
    const small = r.perNode.find((n) => n.node === 'small')!;
    // 20,000 interfaces + 1 memory row, over the default limit.
    assert.equal(config.collect.maxSeriesPerNode, 2000);
    assert.equal(huge.status, 'error');
    assert.equal(huge.error, '20001 series over the limit 2000 (collect.maxSeriesPerNode)');
    assert.equal(small.status, 'up');
    const id = (name: string) => (db.prepare('SELECT id FROM nodes WHERE name = ?').get(name) as { id: number }).id;
    assert.equal(count(db, 'SELECT COUNT(*) AS n FROM network WHERE node_id = ?', id('huge')), 0);
    assert.equal(count(db, 'SELECT COUNT(*) AS n FROM memory WHERE node_id = ?', id('huge')), 0);
    assert.equal(count(db, 'SELECT COUNT(*) AS n FROM counter_state WHERE node_id = ?', id('huge')), 0);
    assert.equal(count(db, 'SELECT COUNT(*) AS n FROM network WHERE node_id = ?', id('small')), 3);
    assert.equal(count(db, 'SELECT COUNT(*) AS n FROM memory WHERE node_id = ?', id('small')), 1);
    assert.deepEqual(db.prepare('SELECT status, last_error AS e FROM nodes WHERE name = ?').get('huge'), { status: 'error', e: huge.error });
    assert.deepEqual(db.prepare('SELECT kind, success, error FROM collector_runs WHERE node_id = ? ORDER BY kind').all(id('huge')), [
      { kind: 'memory', success: 0, error: huge.error },
      { kind: 'network', success: 0, error: huge.error },
    ]);
    console.log(`# 20,000 interfaces: round refused for that node in ${Math.round(ms)} ms`);
  });
});

describe('faults: retention of anomalies and of series that are gone', () => {
  const now = 1_800_000_000;
  let db: Db;
  before(() => {
    db = openDb(join(dir, 'retention.db'));
    syncNodes(db, [{ name: 'n1', host: 'n1', port: 22, connection: 'ssh', groups: [], vars: {} }], now - 86400 * 300);
  });
  after(() => db.close());

  const netRow = (db0: Db) => db0.prepare(
    `INSERT INTO network (node_id, time, iface, rx_bytes, rx_packets, rx_errors, rx_drops, tx_bytes, tx_packets, tx_errors, tx_drops, rx_bytes_per_second)
     VALUES (1, ?, ?, 0, 0, 0, 0, 0, 0, 0, 0, ?)`,
  );

  it('closed episodes older than retention.anomaliesDays go; open and recent ones stay', async () => {
    const ins = db.prepare(
      `INSERT INTO anomalies (node_id, series, label, detector, kind, start_unix_seconds, end_unix_seconds, last_unix_seconds, peak_score, peak_value, peak_unix_seconds, samples, message)
       VALUES (1, 'cpu.usage_percent', 'all', 'rule', ?, ?, ?, ?, 1, 1, ?, 1, ?)`,
    );
    const day = 86400;
    ins.run('old', now - 200 * day, now - 100 * day, now - 100 * day, now - 100 * day, 'closed 100 days ago');
    ins.run('recent', now - 2 * day, now - 1 * day, now - 1 * day, now - 1 * day, 'closed yesterday');
    ins.run('open', now - 200 * day, null, now, now, 'open for 200 days');
    const deleted = await applyRetention(db, { rawDays: 7, rollup1mDays: 30, rollup1hDays: 400, rollup6hDays: 0, anomaliesDays: 90 }, now);
    assert.equal(deleted.anomalies, 1);
    assert.deepEqual((db.prepare('SELECT message FROM anomalies ORDER BY id').all() as { message: string }[]).map((r) => r.message), ['closed yesterday', 'open for 200 days']);
  });

  it('a series gone for longer than raw samples are kept loses its detector state; the others keep theirs', async () => {
    const ins = db.prepare("INSERT INTO detector_state (node_id, series, label, detector, cursor_unix_seconds, state_json) VALUES (1, 'network.rx_bytes_per_second', ?, 'x', ?, '{}')");
    ins.run('veth-gone', now - 8 * 86400);
    ins.run('eth0', now - 60);
    const deleted = await applyRetention(db, { rawDays: 7, rollup1mDays: 30, rollup1hDays: 400, rollup6hDays: 0 }, now);
    assert.equal(deleted.detector_state, 1);
    assert.deepEqual(db.prepare('SELECT label FROM detector_state').all(), [{ label: 'eth0' }]);
    db.exec('DELETE FROM detector_state');
  });

  it('a vanished interface does not pin the detector: the next run reads only the new rows', async () => {
    const ins = netRow(db);
    // eth0 every 10 s for the last 20 h; veth9 stopped 20 h ago.
    const start = now - 20 * 3600;
    db.transaction(() => {
      ins.run(start - 10, 'veth9', 5);
      for (let t = start; t <= now; t += 10) ins.run(t, 'eth0', 100 + (t % 7));
    })();
    const first = await detectAnomalies({ db, nowUnixSeconds: now, stepSeconds: 300 });
    assert.equal(first.rowsRead, 20 * 360 + 2);
    ins.run(now + 10, 'eth0', 101);
    const second = await detectAnomalies({ db, nowUnixSeconds: now + 10, stepSeconds: 300 });
    // One new row; before, the dead veth9's cursor made every run re-read the 20 hours.
    assert.equal(second.rowsRead, 1);
    assert.equal(second.samples, 1);
  });
});
