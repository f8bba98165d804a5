/**
 * Fault suite, the store under a real `edgefleet hub` process (docs/reliability.md, "The
 * store"): the disk holding the SQLite file fills up (a small tmpfs made by the test) and empties
 * again; a large detector backlog beside GET /health.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { closeSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, unlinkSync, writeFileSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import Database from 'better-sqlite3';
import { openDb, syncNodes } from '../../shared/store/index.js';
import { getJson, makeProcRoot, startHub, type HubProcess } from '../harness/hubProcess.js';
import { until } from '../harness/until.js';

let dir: string;
before(() => {
  dir = mkdtempSync(join(tmpdir(), 'edgefleet-faults-hub-'));
});
after(() => rmSync(dir, { recursive: true, force: true }));

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const KINDS = { EDGEFLEET_COLLECT_KINDS: 'memory,network' };

/** Peak resident memory of a process (VmHWM), in MiB. */
const peakMiB = (pid: number) => Number(/VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))![1]) / 1024;

describe('faults: disk full under the hub', () => {
  let mnt: string;
  let hub: HubProcess | undefined;
  before(() => {
    mnt = join(dir, 'small-disk');
    mkdirSync(mnt);
    // A real filesystem that fills up: 6 MiB of tmpfs holding the database.
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=6m', 'tmpfs', mnt]);
  });
  after(async () => {
    await hub?.kill();
    execFileSync('umount', [mnt]);
  });

  it('rounds are kept in memory while the disk is full, /health says degraded, and every round lands once space returns', async () => {
    const inventory = join(dir, 'disk.ini');
    writeFileSync(inventory, `full-node ansible_connection=local edgefleet_proc_root=${makeProcRoot(join(dir, 'disk-node'), 20)}\n`);
    const db = join(mnt, 'edgefleet.db');
    hub = await startHub({ cwd: dir, inventory, db, intervalSeconds: 1, env: KINDS });
    await until('two rounds stored', 10_000, async () => {
      const h = await getJson(hub!.base, '/health');
      return h.body.lastCollectionUnixSeconds && h.body.status === 'ok' && hub!.logs().filter((l) => l.msg === 'round').length >= 2 ? true : undefined;
    });

    // Fill the disk to the last byte.
    const filler = join(mnt, 'filler');
    const fd = openSync(filler, 'w');
    for (const size of [1 << 18, 1 << 12, 1 << 9]) {
      try {
        for (;;) writeSync(fd, Buffer.alloc(size));
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'ENOSPC') throw e;
      }
    }
    closeSync(fd);
    const filledAt = Date.now();
    const degraded = await until('/health degraded', 10_000, async () => {
      const h = await getJson(hub!.base, '/health');
      return h.body.status === 'degraded' && h.body.store.bufferedRounds >= 1 ? h.body : undefined;
    });
    const detectMs = Date.now() - filledAt;
    assert.match(degraded.store.lastError, /full/i);
    assert.equal(typeof degraded.store.failingSinceUnixSeconds, 'number');
    await sleep(3000);
    const during = (await getJson(hub.base, '/health')).body;
    assert.equal(during.status, 'degraded');
    assert.ok(during.store.bufferedRounds >= 3, JSON.stringify(during.store));

    unlinkSync(filler);
    const freedAt = Date.now();
    const healed = await until('/health ok again', 10_000, async () => {
      const h = await getJson(hub!.base, '/health');
      return h.body.status === 'ok' ? h.body : undefined;
    });
    const recoverMs = Date.now() - freedAt;
    assert.equal(healed.store.bufferedRounds, 0);
    assert.equal(healed.store.droppedRounds, 0);
    await sleep(1200);

    const peak = peakMiB(hub.child.pid!);
    hub.child.kill('SIGTERM');
    const exit = await hub.exited;
    assert.equal(exit.code, 0, hub.stderr());
    const collected = hub.logs().filter((l) => l.msg === 'round' && l.fn === 'collectAll');
    const check = new Database(db, { readonly: true });
    try {
      assert.equal(check.pragma('integrity_check', { simple: true }), 'ok');
      const rounds = (check.prepare('SELECT COUNT(*) AS n FROM rounds').get() as { n: number }).n;
      // Every round the hub collected is stored, the ones of the outage too: none lost.
      assert.equal(rounds, collected.length, `rounds stored ${rounds}, collected ${collected.length}`);
      const outage = check.prepare('SELECT COUNT(*) AS n FROM rounds WHERE written_unix_ms - started_unix_ms > 1500').get() as { n: number };
      assert.ok(outage.n >= 3, `rounds written late: ${outage.n}`);
      // Whole rounds: each stored round has the node's 20 interfaces and its memory row.
      const partial = check.prepare(
        `SELECT COUNT(*) AS n FROM rounds r WHERE (SELECT COUNT(*) FROM network WHERE time = r.time) % 20 <> 0 OR (SELECT COUNT(*) FROM memory WHERE time = r.time) = 0`,
      ).get() as { n: number };
      assert.equal(partial.n, 0);
      console.log(`# disk full: degraded after ${detectMs} ms, ${during.store.bufferedRounds}+ rounds buffered (${during.store.bufferedBytes} bytes), all written ${recoverMs} ms after space returned; ${rounds} rounds, 0 lost; hub peak RSS ${peak.toFixed(0)} MiB`);
    } finally {
      check.close();
    }
  });
});

describe('faults: a large detector backlog beside the routes', () => {
  let hub: HubProcess | undefined;
  after(async () => hub?.kill());

  it('GET /health keeps answering (p95 under 300 ms, never a fifth of the detection) while detectAnomalies works through a day of 1,200 series', async () => {
    const IFACES = 150;
    const inventory = join(dir, 'backlog.ini');
    writeFileSync(inventory, `big ansible_connection=local edgefleet_proc_root=${makeProcRoot(join(dir, 'backlog-node'), IFACES)}\n`);
    const path = join(dir, 'backlog.db');
    const now = Math.floor(Date.now() / 1000);
    const db = openDb(path);
    try {
      syncNodes(db, [{ name: 'big', host: 'big', port: 22, connection: 'local', groups: [], vars: {} }], now);
      const ins = db.prepare(
        `INSERT INTO network (node_id, time, iface, rx_bytes, rx_packets, rx_errors, rx_drops, tx_bytes, tx_packets, tx_errors, tx_drops,
           rx_bytes_per_second, tx_bytes_per_second, rx_packets_per_second, tx_packets_per_second, rx_errors_per_second, tx_errors_per_second, rx_drops_per_second, tx_drops_per_second)
         VALUES (1, ?, ?, 0, 0, 0, 0, 0, 0, 0, 0, ?, ?, ?, ?, 0, 0, 0, 0)`,
      );
      // A day every 2 minutes: 150 interfaces × 8 rates, 0.86 million samples.
      db.transaction(() => {
        for (let t = now - 86_000; t < now - 60; t += 120) for (let i = 0; i < IFACES; i++) ins.run(t, `veth${i}`, (t % 97) + i, t % 89, t % 13, 5);
      })();
    } finally {
      db.close();
    }
    hub = await startHub({ cwd: dir, inventory, db: path, intervalSeconds: 1, env: KINDS });
    const latencies: number[] = [];
    let detected: Record<string, unknown> | undefined;
    const deadline = Date.now() + 180_000;
    while (!detected && Date.now() < deadline) {
      latencies.push((await getJson(hub.base, '/health')).ms);
      detected = hub.logs().find((l) => l.msg === 'anomalies' && l.fn === 'detectAnomalies');
      await sleep(50);
    }
    assert.ok(detected, 'detectAnomalies did not finish within 180 s');
    const durationMs = detected.durationMs as number;
    assert.ok(durationMs > 1000, `the backlog took only ${durationMs} ms: too small to show anything`);
    assert.ok((detected.samples as number) >= 850_000);
    const sorted = [...latencies].sort((a, b) => a - b);
    const p95 = sorted[Math.floor(sorted.length * 0.95)]!;
    const worst = sorted[sorted.length - 1]!;
    const rounds = hub.logs().filter((l) => l.msg === 'round' && l.fn === 'collectAll').length;
    console.log(`# detector backlog: ${detected.samples} samples in ${durationMs} ms; ${latencies.length} GET /health meanwhile, median ${sorted[sorted.length >> 1]!.toFixed(0)} ms, p95 ${p95.toFixed(0)} ms, worst ${worst.toFixed(0)} ms; ${rounds} rounds collected meanwhile`);
    // Before: one GET /health waited 11.4 s for the detector, all of it. On an idle machine p95
    // is about 100 ms (docs/reliability.md); the bounds are loose because on this shared 2-core
    // machine the scheduler alone holds a busy process 100+ ms (the detection then takes 5–10×
    // longer too): no request waits for more than a small part of the detection.
    assert.ok(p95 < 300, `GET /health p95 ${p95.toFixed(0)} ms`);
    assert.ok(worst < 1500 && worst < durationMs / 5, `GET /health took ${worst.toFixed(0)} ms of a ${durationMs} ms detection`);
    // Rounds kept their pace: about one a second while the detector ran.
    assert.ok(rounds >= Math.floor(durationMs / 1000) - 1, `${rounds} rounds in ${durationMs} ms`);
  });
});
