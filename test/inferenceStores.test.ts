/**
 * The inference store on both stores, SQLite and a real PostgreSQL 15 (eachStore): the drain's
 * commits (rows and cursor together, a known line key dropped, a cursor past 2^53 ns exact and
 * never set back), the push path, the stats and energy per inference on a case worked out by
 * hand below, retention (rows on SQLite, whole days on PostgreSQL) and the vanished containers'
 * cursors. Plus migrations 16 and 17 on a live PostgreSQL database: the inference table and issue
 * 18's readings partitioned by day with their rows (and ids) kept.
 */
import assert from 'node:assert/strict';
import { it, describe } from 'node:test';
import pg from 'pg';
import { pushInference } from '../shared/collect/inference.js';
import { inferenceStats } from '../shared/collect/inferenceStats.js';
import type { NodeSpec } from '../shared/domain/index.js';
import { applyInferenceRetention, pruneGoneCursors, type InferenceWrite, type Store } from '../shared/store/index.js';
import { inferenceRows } from '../shared/store/inferenceRows.js';
import { MIGRATIONS } from '../shared/store/migrations.js';
import { migratePg, openPg, PgDb } from '../shared/store/pg.js';
import { eachStore } from './harness/stores.js';
import { postgresAvailable, startPostgres } from './harness/postgres.js';

const DAY = 86400;
const spec = (name: string): NodeSpec => ({ name, groups: [], vars: {}, connection: 'local', host: name, port: 22 });
const count = async (s: Store, where = '') => (await s.sql.get<{ n: number }>(`SELECT COUNT(*) AS n FROM inference ${where}`))!.n;
/** Two hours before the hour now: within the partitions a PostgreSQL store makes at open. */
const T0 = Math.floor(Date.now() / 1000 / 3600) * 3600 - 7200;

async function fleet(s: Store): Promise<number> {
  await s.syncNodes([spec('pi-01'), spec('other')], T0);
  return (await s.listNodes()).find((n) => n.name === 'pi-01')!.id;
}

const row = (nodeId: number, i: number, over: Partial<InferenceWrite> = {}): InferenceWrite => ({
  nodeId, deploymentId: 'aaaaaaaaaaaa', model: 'lab/iris', tag: 'v1', timeUnixMs: (T0 + i) * 1000, record: { batch: 1, latencyMs: 1 }, source: 'log', lineKey: BigInt(i + 1), ...over,
});

eachStore('inference store', (k) => {
  it('commits rows and cursor together, drops a line key it has, keeps a cursor past 2^53 ns exact and never moves it back', async () => {
    const s = await k.open();
    const nodeId = await fleet(s);
    const w = inferenceRows(s);
    const key = { deploymentId: 'aaaaaaaaaaaa', nodeId, containerId: 'c1' };
    assert.deepEqual(await w.cursor(key), { logTimeUnixNs: 0n, linesAtTime: 0 });
    // 1,767,225,600,123,456,789 ns: 2^53 is 9.0e15, so a double would lose the last digits.
    const at = { logTimeUnixNs: 1_767_225_600_123_456_789n, linesAtTime: 2 };
    const rows = Array.from({ length: 1234 }, (_, i) => row(nodeId, i));
    assert.equal(await w.commitLogBatch(key, at, rows, { linesRead: 1300, inferences: 1234, ignored: 60, invalid: 6, lastInvalid: 'batch must be a whole number ≥ 1, not "0"' }, T0), 1234);
    assert.deepEqual(await w.cursor(key), at);
    // Read again (a cursor restored from a backup): every key known, nothing new.
    const later = { logTimeUnixNs: at.logTimeUnixNs + 1n, linesAtTime: 1 };
    assert.equal(await w.commitLogBatch(key, later, rows.slice(1000), { linesRead: 234, inferences: 234, ignored: 0, invalid: 0 }, T0 + 1), 0);
    assert.deepEqual(await w.cursor(key), later);
    // A reader behind (another hub) cannot set the cursor back, and its counts do not land.
    assert.equal(await w.commitLogBatch(key, at, [], { linesRead: 5, inferences: 0, ignored: 5, invalid: 0 }, T0 + 2), 0);
    assert.deepEqual(await w.cursor(key), later);
    assert.equal(await count(s), 1234);
    const c = await s.sql.get('SELECT lines_read AS "read", inferences, ignored_lines AS ignored, invalid_lines AS invalid, last_invalid AS last FROM inference_cursors');
    assert.deepEqual(c, { read: 1534, inferences: 1234, ignored: 60, invalid: 6, last: 'batch must be a whole number ≥ 1, not "0"' });
    await s.close();
  });

  it('stores a push all or nothing, over two days, and a retried one once', async () => {
    const s = await k.open();
    await fleet(s);
    // Yesterday and today, a day apart: two partitions on PostgreSQL.
    const body = { node: 'pi-01', model: 'lab/iris', tag: 'v1', inferences: [{ ts: (T0 - DAY) * 1000, latency_ms: 2 }, { ts: T0 * 1000, latency_ms: 3, label: 'b' }] };
    const now = (T0 + 60) * 1000;
    assert.deepEqual(await pushInference(s, body, now), { received: 2, stored: 2, duplicates: 0 });
    assert.deepEqual(await pushInference(s, body, now), { received: 2, stored: 0, duplicates: 2 });
    await assert.rejects(pushInference(s, { ...body, inferences: [{ ts: T0 * 1000 + 5, latency_ms: 1 }, { ts: T0 * 1000, latency_ms: -1 }] }, now), /inferences\[1\]: latency_ms must be/);
    await assert.rejects(pushInference(s, { ...body, node: 'nope' }, now), /no node "nope"/);
    await assert.rejects(pushInference(s, { ...body, deployment: '0123456789ab' }, now), /no deployment 0123456789ab on node pi-01/);
    assert.deepEqual(await s.sql.all('SELECT time, latency_ms AS ms, label, source FROM inference ORDER BY time'), [
      { time: T0 - DAY, ms: 2, label: null, source: 'push' },
      { time: T0, ms: 3, label: 'b', source: 'push' },
    ]);
    await s.close();
  });

  it('gives the stats and energy per inference of a hand-worked window', async () => {
    const s = await k.open();
    const nodeId = await fleet(s);
    const other = (await s.listNodes()).find((n) => n.name === 'other')!.id;
    // The deployment was requested 4 s before its first inference: cold start 4000 ms.
    await s.sql.run(`INSERT INTO deployments (id, action, registry, repository, tag, image, target_json, options_json, status, created_unix_seconds) VALUES ('aaaaaaaaaaaa', 'deploy', 'lab', 'lab/iris', 'v1', 'r/lab/iris:v1', '{}', '{}', 'succeeded', ?)`, [T0 - 4]);
    await s.sql.run(`INSERT INTO deployment_nodes (deployment_id, node, state, queued_unix_seconds, updated_unix_seconds) VALUES ('aaaaaaaaaaaa', 'pi-01', 'running', ?, ?)`, [T0 - 4, T0 - 4]);
    await s.sql.run(`INSERT INTO deployment_events (deployment_id, node, time, time_unix_ms, state) VALUES ('aaaaaaaaaaaa', 'pi-01', ?, ?, 'queued')`, [T0 - 4, (T0 - 4) * 1000]);
    // 21 inferences, one a second from T0 to T0 + 20. i < 20: latency (7i mod 20) + 1 ms, a
    // permutation of 1…20; expected "a", label "b" when i is a multiple of 4 (0, 4, 8, 12, 16:
    // 5 wrong of 20). i = 0 is a batch of 4. i = 20: an error, no latency, no truth.
    const rows = Array.from({ length: 21 }, (_, i) =>
      row(nodeId, i, {
        record: i < 20 ? { batch: i === 0 ? 4 : 1, latencyMs: ((7 * i) % 20) + 1, label: i % 4 === 0 ? 'b' : 'a', expected: 'a' } : { batch: 1, error: 'CUDA out of memory' },
      }),
    );
    const w = inferenceRows(s);
    await w.commitLogBatch({ deploymentId: 'aaaaaaaaaaaa', nodeId, containerId: 'c1' }, { logTimeUnixNs: 1n, linesAtTime: 1 }, rows, { linesRead: 30, inferences: 21, ignored: 5, invalid: 4, lastInvalid: 'ts is not a time' }, T0);
    // Another model on another node, outside every filter below.
    await w.insert([row(other, 3, { model: 'lab/yolo', lineKey: 999n, deploymentId: null, source: 'push' })]);
    // The node meanwhile: temperature 50 and 60 °C (mean 55), CPU "all" 20 and 40 % (mean 30;
    // cpu0's 99 % is not "all"); power 5, 7, 6 W at T0, T0 + 10, T0 + 20 and 100 W after the window.
    for (const [t, c] of [[T0, 50], [T0 + 10, 60], [T0 + 300, 90]] as const) await s.sql.run(`INSERT INTO temperature (node_id, time, sensor, celsius) VALUES (?, ?, 'soc', ?)`, [nodeId, t, c]);
    for (const [t, cpu, u] of [[T0, 'all', 20], [T0 + 20, 'all', 40], [T0, 'cpu0', 99]] as const) {
      await s.sql.run(
        'INSERT INTO cpu (node_id, time, cpu, usage_percent, user_percent, nice_percent, system_percent, iowait_percent, irq_percent, softirq_percent, steal_percent, idle_percent, interval_seconds) VALUES (?, ?, ?, ?, 0, 0, 0, 0, 0, 0, 0, 0, 10)',
        [nodeId, t, cpu, u],
      );
    }
    for (const [t, watts] of [[T0, 5], [T0 + 10, 7], [T0 + 20, 6], [T0 + 100, 100]] as const) await s.sql.run(`INSERT INTO power (node_id, time, watts, total_of) VALUES (?, ?, ?, 'rapl')`, [nodeId, t, watts]);

    const [st, ...rest] = await inferenceStats(s, { fromUnixSeconds: T0 - 60, toUnixSeconds: T0 + 60, model: 'lab/iris' });
    assert.equal(rest.length, 0);
    assert.ok(st);
    assert.deepEqual(
      { model: st.model, tag: st.tag, node: st.node, count: st.count, samples: st.samples, firstUnixMs: st.firstUnixMs, lastUnixMs: st.lastUnixMs },
      { model: 'lab/iris', tag: 'v1', node: 'pi-01', count: 21, samples: 24, firstUnixMs: T0 * 1000, lastUnixMs: (T0 + 20) * 1000 },
    );
    // 20 inferences after the first in 20 s; 24 − 4 (the first batch) inputs in 20 s.
    assert.equal(st.inferencesPerSecond, 1);
    assert.equal(st.samplesPerSecond, 1);
    // Nearest rank over 1…20: p50 the 10th, p90 the 18th, p95 the 19th, p99 the 20th; mean 10.5.
    assert.deepEqual(st.latencyMs, { min: 1, mean: 10.5, p50: 10, p90: 18, p95: 19, p99: 20, max: 20 });
    assert.deepEqual([st.errors, st.errorRate, st.withExpected, st.correct, st.accuracy], [1, 1 / 21, 20, 15, 0.75]);
    assert.equal(st.coldStartMs, 4000);
    assert.deepEqual(st.deploymentIds, ['aaaaaaaaaaaa']);
    assert.deepEqual([st.temperatureCelsius, st.cpuUsagePercent], [55, 30]);
    // Trapezoid: (5 + 7) / 2 · 10 + (7 + 6) / 2 · 10 = 125 J over 20 s = 6.25 W; 21 inferences in the span.
    assert.equal(st.powerWatts, 6.25);
    assert.equal(st.joulesPerInference, 125 / 21);
    assert.deepEqual(st.logLines, { read: 30, ignored: 5, invalid: 4, lastInvalid: 'ts is not a time' });
    assert.equal((await inferenceStats(s, { fromUnixSeconds: T0 - 60, toUnixSeconds: T0 + 60, node: 'nope' })).length, 0);
    assert.equal((await inferenceStats(s, { fromUnixSeconds: T0 - 60, toUnixSeconds: T0 + 60, model: 'lab/iris', tag: 'v2' })).length, 0);
    assert.deepEqual((await inferenceStats(s, { fromUnixSeconds: T0 - 60, toUnixSeconds: T0 + 60 })).map((x) => [x.model, x.node, x.count, x.powerWatts]), [['lab/iris', 'pi-01', 21, 6.25], ['lab/yolo', 'other', 1, null]]);
    await s.close();
  });

  it('drops inferences past their days: rows on SQLite, whole days on PostgreSQL; and the cursors of vanished containers', async () => {
    const s = await k.open();
    const nodeId = await fleet(s);
    // now = noon; cutoff = now − 30 days, also at noon. 40 and 31 days ago lie on days wholly
    // before it; 30 days and 6 hours ago lies on the cutoff's own day, 29 and 1 after it.
    const now = Math.floor(T0 / DAY) * DAY + DAY / 2;
    const agoSeconds = [40 * DAY, 31 * DAY, 30 * DAY + 6 * 3600, 29 * DAY, DAY];
    await inferenceRows(s).insert(agoSeconds.map((ago, i) => row(nodeId, 0, { timeUnixMs: (now - ago) * 1000, lineKey: BigInt(i + 1), source: 'push' })));
    const deleted = await applyInferenceRetention(s, { inferenceDays: 30, deploymentEventsDays: 0 }, now);
    const left = (await s.sql.all<{ time: number }>('SELECT time FROM inference ORDER BY time')).map((r) => (now - r.time) / DAY);
    if (k.name === 'sqlite') {
      assert.equal(deleted.inference, 3);
      assert.deepEqual(left, [29, 1]);
    } else {
      assert.equal(deleted.inference, 2);
      assert.deepEqual(left, [30.25, 29, 1]);
      const parts = await s.sql.all<{ n: string }>(`SELECT c.relname AS n FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid JOIN pg_class p ON p.oid = i.inhparent WHERE p.relname = 'inference'`);
      const day = (ago: number) => `inference_p${new Date((now - ago) * 1000).toISOString().slice(0, 10).replace(/-/g, '')}`;
      const names = parts.map((p) => p.n);
      assert.ok(!names.includes(day(40 * DAY)) && !names.includes(day(31 * DAY)) && names.includes(day(30 * DAY + 6 * 3600)), names.join(' '));
    }
    // Cursors: gone 8 days ago (pruned), gone yesterday (kept), listed though idle a month (kept).
    const w = inferenceRows(s);
    for (const [c, updated] of [['gone-long-ago', now - 8 * DAY], ['gone-recently', now - DAY], ['listed-but-idle', now - 30 * DAY]] as const) {
      await w.commitLogBatch({ deploymentId: 'aaaaaaaaaaaa', nodeId, containerId: c }, { logTimeUnixNs: 1n, linesAtTime: 1 }, [], { linesRead: 1, inferences: 0, ignored: 1, invalid: 0 }, updated);
    }
    assert.equal(await pruneGoneCursors(s, nodeId, ['listed-but-idle'], now - 7 * DAY), 1);
    assert.deepEqual((await s.sql.all<{ c: string }>('SELECT container_id AS c FROM inference_cursors ORDER BY container_id')).map((r) => r.c), ['gone-recently', 'listed-but-idle']);
    assert.equal(await pruneGoneCursors(s, nodeId, [], now), 2);
    await s.close();
  });
});

describe('PostgreSQL migrations 16 and 17 on a live database', { skip: postgresAvailable() ? false : 'no PostgreSQL 15 here' }, () => {
  it('keeps the rows and their ids, partitions them by day, goes on with new ids and the same dedup', async () => {
    const cluster = await startPostgres();
    try {
      const url = cluster.createDatabase('migration_16');
      // A database at 15, as hubs before this change left it, holding inferences on two days.
      const at15 = new PgDb(new pg.Pool({ connectionString: url, max: 2 }), 'at15');
      assert.deepEqual((await migratePg(at15, MIGRATIONS.slice(0, 15))).length, 15);
      await at15.query(`INSERT INTO nodes (name, host, connection, groups_json, vars_json, status, added_unix_seconds, updated_unix_seconds) VALUES ('pi-01', 'pi-01', 'local', '[]', '{}', 'up', 0, 0)`);
      for (const [time, key] of [[T0 - DAY, 11], [T0, 12], [T0 + 1, 13]]) {
        await at15.query(`INSERT INTO inference (node_id, model, tag, time, time_unix_ms, latency_ms, source, line_key) VALUES (1, 'lab/iris', 'v1', $1, $2, 1.5, 'push', $3)`, [time, time! * 1000, key]);
      }
      const before = await at15.query('SELECT id, time, line_key FROM inference ORDER BY id');
      await at15.close();

      const db = await openPg(url);
      assert.equal((await db.query<{ v: number }>('SELECT version AS v FROM edgefleet_schema'))[0]!.v, MIGRATIONS.length);
      assert.deepEqual(await db.query('SELECT id, time, line_key FROM inference ORDER BY id'), before);
      assert.deepEqual(await db.query("SELECT c.relname FROM pg_partitioned_table p JOIN pg_class c ON c.oid = p.partrelid WHERE c.relname = 'inference'"), [{ relname: 'inference' }]);
      const day = (t: number) => `inference_p${new Date(t * 1000).toISOString().slice(0, 10).replace(/-/g, '')}`;
      const parts = (await db.query<{ n: string }>(`SELECT c.relname AS n FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = 'inference'::regclass`)).map((r) => r.n);
      assert.ok(parts.includes(day(T0 - DAY)) && parts.includes(day(T0)), parts.join(' '));
      assert.deepEqual(await db.query("SELECT to_regclass('inference_before_15') AS t"), [{ t: null }]);
      const s = (await import('../shared/store/pgStore.js')).openPgStore(url);
      const store = await s;
      assert.equal(await inferenceRows(store).insert([row(1, 5, { lineKey: 12n, timeUnixMs: T0 * 1000 }), row(1, 5, { lineKey: 14n })]), 1);
      const ids = await db.query<{ id: number; line_key: number }>('SELECT id, line_key FROM inference ORDER BY id');
      assert.deepEqual(ids.map((r) => r.line_key), [11, 12, 13, 14]);
      assert.ok(ids[3]!.id > ids[2]!.id, 'a new row gets an id after the copied ones');
      await store.close();
      await db.close();
    } finally {
      await cluster.close();
    }
  });

  it("migration 17: issue 18's readings partitioned by day the same way, rows kept, a round written after", async () => {
    const cluster = await startPostgres();
    try {
      const url = cluster.createDatabase('migration_17');
      const at16 = new PgDb(new pg.Pool({ connectionString: url, max: 2 }), 'at16');
      await migratePg(at16, MIGRATIONS.slice(0, 16));
      await at16.query(`INSERT INTO nodes (name, host, connection, groups_json, vars_json, status, added_unix_seconds, updated_unix_seconds) VALUES ('pi-01', 'pi-01', 'local', '[]', '{}', 'up', 0, 0)`);
      for (const t of [T0 - DAY, T0]) {
        await at16.query(`INSERT INTO power (node_id, time, watts, total_of) VALUES (1, $1, 5.5, 'VDD_IN')`, [t]);
        await at16.query(`INSERT INTO tegra_gpu (node_id, time, device, load_percent) VALUES (1, $1, 'gpu', 51.2)`, [t]);
        await at16.query(`INSERT INTO rpi_throttled (node_id, time, flags, source) VALUES (1, $1, 327685, 'sysfs')`, [t]);
      }
      await at16.close();
      const s = await (await import('../shared/store/pgStore.js')).openPgStore(url);
      const rel = (q: string) => s.sql.all<{ n: string }>(q).then((r) => r.map((x) => x.n));
      const tables = ['cpu_frequency', 'cpu_throttle', 'power', 'power_rails', 'rpi_throttled', 'tegra_gpu'];
      assert.deepEqual(await rel(`SELECT c.relname AS n FROM pg_partitioned_table p JOIN pg_class c ON c.oid = p.partrelid WHERE c.relname IN (${tables.map((t) => `'${t}'`).join(', ')}) ORDER BY 1`), tables);
      assert.deepEqual(await s.sql.all('SELECT time, watts FROM power ORDER BY time'), [{ time: T0 - DAY, watts: 5.5 }, { time: T0, watts: 5.5 }]);
      assert.deepEqual(await s.sql.all('SELECT time, flags FROM rpi_throttled ORDER BY time'), [{ time: T0 - DAY, flags: 327685 }, { time: T0, flags: 327685 }]);
      const day = `power_p${new Date((T0 - DAY) * 1000).toISOString().slice(0, 10).replace(/-/g, '')}`;
      assert.deepEqual(await rel(`SELECT c.relname AS n FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = 'power'::regclass AND c.relname = '${day}'`), [day]);
      // The primary key is back: the same second again replaces, as a round's write does.
      await s.writeRound({ timeUnixSeconds: T0, startedUnixMs: T0 * 1000, kinds: ['power'], readings: [{ node: 'pi-01', timeUnixSeconds: T0, power: { rails: [], totalWatts: 7.25, totalOf: 'sum' } } as never], counters: [], runs: [], outcomes: [] });
      assert.deepEqual(await s.sql.all('SELECT time, watts, total_of FROM power ORDER BY time'), [{ time: T0 - DAY, watts: 5.5, total_of: 'VDD_IN' }, { time: T0, watts: 7.25, total_of: 'sum' }]);
      await s.close();
    } finally {
      await cluster.close();
    }
  });
});
