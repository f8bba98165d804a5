/**
 * Fault suite, crashes and readers (docs/reliability.md, "The store"): the hub SIGKILLed in the
 * middle of a round twenty times — the file stays sound and every round is there whole or not at
 * all; a 15 s read transaction in another process beside the hub — under WAL every round lands.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import Database from 'better-sqlite3';
import { getJson, makeProcRoot, startHub, type HubProcess } from '../harness/hubProcess.js';

const ROOT = join(import.meta.dirname, '..', '..');
const NODES = 2;
const IFACES = 1500;
const KINDS = { EDGEFLEET_COLLECT_KINDS: 'memory,network' };
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

let dir: string;
let inventory: string;
before(() => {
  dir = mkdtempSync(join(tmpdir(), 'edgefleet-faults-crash-'));
  inventory = join(dir, 'inventory.ini');
  const lines = Array.from({ length: NODES }, (_, i) => `n${i} ansible_connection=local edgefleet_proc_root=${makeProcRoot(join(dir, `n${i}`), IFACES)}`);
  writeFileSync(inventory, `[lab]\n${lines.join('\n')}\n`);
});
after(() => rmSync(dir, { recursive: true, force: true }));

/** Rounds that are not whole: runs missing, or a round's second without every node's rows. */
function partialRounds(db: Database.Database): { rounds: number; partial: number; orphanSeconds: number } {
  const rounds = (db.prepare('SELECT COUNT(*) AS n FROM rounds').get() as { n: number }).n;
  const runsShort = (db.prepare(`SELECT COUNT(*) AS n FROM rounds r WHERE (SELECT COUNT(*) FROM collector_runs c WHERE c.round_id = r.id) <> ${NODES * 2}`).get() as { n: number }).n;
  // Readings are keyed by second: a second holds every node's interfaces and memory row, or none.
  const rowsShort = (db.prepare(
    `SELECT COUNT(*) AS n FROM (SELECT DISTINCT time FROM rounds) r
     WHERE (SELECT COUNT(*) FROM network WHERE time = r.time) <> ${NODES * IFACES} OR (SELECT COUNT(*) FROM memory WHERE time = r.time) <> ${NODES}`,
  ).get() as { n: number }).n;
  // And no readings without their round.
  const orphanSeconds = (db.prepare('SELECT COUNT(*) AS n FROM (SELECT DISTINCT time FROM memory) m WHERE NOT EXISTS (SELECT 1 FROM rounds r WHERE r.time = m.time)').get() as { n: number }).n;
  return { rounds, partial: runsShort + rowsShort, orphanSeconds };
}

describe('faults: the hub SIGKILLed mid-round', () => {
  let hub: HubProcess | undefined;
  after(async () => hub?.kill());

  it('twenty kills: integrity_check ok after each, every round wholly present or absent', async () => {
    const db = join(dir, 'killed.db');
    let midRound = 0;
    // How long from collectAll's 'scheduled' line (its first round starts there) to the round's
    // 'round' line (logged once the store took it): kills aim at the later part of that span,
    // where the round parses and writes its 3,000 interfaces.
    let spanMs = 300;
    for (let kill = 0; kill < 20; kill++) {
      const isSched = (l: Record<string, unknown>) => l.msg === 'scheduled' && l.function === 'collectAll';
      const isRound = (l: Record<string, unknown>) => l.msg === 'round' && l.fn === 'collectAll';
      hub = await startHub({ cwd: dir, inventory, db, intervalSeconds: 1, env: KINDS, until: isSched });
      const t0 = Date.parse(hub.logs().find(isSched)!.time as string);
      await sleep(t0 + spanMs * (0.4 + Math.random() * 0.8) - Date.now());
      hub.child.kill('SIGKILL');
      await hub.exited;
      const done = hub.logs().find(isRound);
      // Cut off unless its 'round' line came out.
      if (done) spanMs = Date.parse(done.time as string) - t0;
      else {
        midRound++;
        // None finished: the round is longer than thought (a loaded machine), aim later.
        spanMs *= 1.3;
      }
      const check = new Database(db);
      try {
        assert.equal(check.pragma('integrity_check', { simple: true }), 'ok', `after kill ${kill + 1}`);
      } finally {
        check.close();
      }
    }
    const check = new Database(db, { readonly: true });
    try {
      const r = partialRounds(check);
      console.log(`# SIGKILL x20: ${midRound} kills inside a round; integrity_check ok 20/20; ${r.rounds} rounds stored, ${r.partial} partial, ${r.orphanSeconds} readings without their round`);
      // Every round whose line came out is stored (one killed between its commit and its line counts as cut off);
      // some rounds must have finished, or nothing was shown about whole rounds.
      assert.ok(20 - midRound >= 2, `only ${20 - midRound} of 20 rounds finished before their kill`);
      assert.ok(r.rounds >= 20 - midRound, `${r.rounds} rounds stored, ${20 - midRound} finished`);
      assert.equal(r.partial, 0);
      assert.equal(r.orphanSeconds, 0);
      assert.ok(midRound >= 8, `only ${midRound} of 20 kills landed inside a round`);
    } finally {
      check.close();
    }
  });
});

describe('faults: a 15 s reader beside the hub', () => {
  let hub: HubProcess | undefined;
  after(async () => hub?.kill());

  it('a read transaction held 15 s in another process: every round lands meanwhile (WAL), none lost', async () => {
    const db = join(dir, 'read.db');
    hub = await startHub({ cwd: dir, inventory, db, intervalSeconds: 1, env: KINDS });
    while (!hub.logs().some((l) => l.msg === 'round')) await sleep(50);
    const script = join(dir, 'reader.cjs');
    writeFileSync(
      script,
      `const db = new (require(${JSON.stringify(join(ROOT, 'node_modules', 'better-sqlite3'))}))(process.argv[2], { readonly: true });
       db.exec('BEGIN'); const n0 = db.prepare('SELECT COUNT(*) AS n FROM network').get().n;
       process.stdout.write(JSON.stringify({ start: Date.now(), n0 }) + '\\n');
       Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 15000);
       const n1 = db.prepare('SELECT COUNT(*) AS n FROM network').get().n; db.exec('COMMIT');
       process.stdout.write(JSON.stringify({ end: Date.now(), n1 }) + '\\n');`,
    );
    const reader = spawn(process.execPath, [script, db], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    reader.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
    const done = new Promise<void>((resolve) => reader.on('exit', () => resolve()));
    let walMaxBytes = 0;
    const statuses = new Set<string>();
    try {
      while (reader.exitCode === null) {
        walMaxBytes = Math.max(walMaxBytes, statSync(`${db}-wal`).size);
        statuses.add((await getJson(hub.base, '/health')).body.status);
        await sleep(250);
      }
      await done;
    } finally {
      reader.kill('SIGKILL');
    }
    const [a, b] = out.trim().split('\n').map((l) => JSON.parse(l) as Record<string, number>);
    assert.equal(b!.n1, a!.n0, 'the reader saw one snapshot throughout');
    await sleep(1500);
    hub.child.kill('SIGTERM');
    assert.equal((await hub.exited).code, 0, hub.stderr());

    const collected = hub.logs().filter((l) => l.msg === 'round' && l.fn === 'collectAll');
    const notStored = collected.filter((l) => l.stored !== true).length;
    const check = new Database(db, { readonly: true });
    try {
      const during = (check.prepare('SELECT COUNT(*) AS n FROM rounds WHERE started_unix_ms >= ? AND started_unix_ms < ?').get(a!.start, b!.end) as { n: number }).n;
      const r = partialRounds(check);
      console.log(`# 15 s reader: ${during} rounds landed during it, ${notStored} not stored, ${r.rounds} stored of ${collected.length} collected; WAL up to ${(walMaxBytes / 1048576).toFixed(1)} MiB; /health ${[...statuses].join(', ')}`);
      assert.ok(during >= 13, `${during} rounds during the 15 s read`);
      assert.equal(notStored, 0);
      assert.equal(r.rounds, collected.length);
      assert.equal(r.partial, 0);
      assert.deepEqual([...statuses], ['ok']);
    } finally {
      check.close();
    }
  });
});
