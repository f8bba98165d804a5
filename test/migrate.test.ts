/**
 * `edgefleet migrate`: a SQLite store with history copied into a real PostgreSQL 15, checked row
 * for row against the SQLite file; interrupted in the middle and run again, it resumes and
 * copies nothing twice; run a third time it copies nothing.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { openDb, sqliteStore, type NodeReadings } from '../shared/store/index.js';
import { copySqliteToPg } from '../shared/store/copyToPg.js';
import { openPg } from '../shared/store/pg.js';
import { openPgStore } from '../shared/store/pgStore.js';
import { runCli } from './harness/cli.js';
import { postgresAvailable, startPostgres, type TestPostgres } from './harness/postgres.js';

const T0 = 1_790_000_000 - (1_790_000_000 % 86400) - 86400 * 2 + 3600 * 23; // spans a UTC midnight
let pg: TestPostgres;
let dir: string;
let file: string;

describe('edgefleet migrate', { skip: postgresAvailable() ? false : 'no PostgreSQL 15 here' }, () => {
  before(async () => {
    pg = await startPostgres();
    dir = mkdtempSync(join(tmpdir(), 'edgefleet-migrate-'));
    file = join(dir, 'lab.db');
    const db = openDb(file);
    const s = sqliteStore(db);
    await s.syncNodes(['pi-01', 'pi-02', 'jetson'].map((name) => ({ name, groups: ['lab'], vars: {}, connection: 'ssh' as const, host: name, port: 22 })), T0);
    // Two hours across midnight, a round a minute: readings, runs, rounds, then rollups.
    for (let t = T0; t < T0 + 7200; t += 60) {
      const readings: NodeReadings[] = ['pi-01', 'pi-02', 'jetson'].map((node, i) => ({
        node,
        timeUnixSeconds: t,
        memory: { memTotalBytes: 4e9, memFreeBytes: 1e9 + t, usedPercent: 10 * i + (t % 600) / 60 },
        temperature: [{ source: 'thermal_zone', sensor: 'thermal_zone0', type: 'cpu-thermal', celsius: 40 + i + (t % 7) }],
      }));
      await s.writeRound({
        timeUnixSeconds: t, startedUnixMs: t * 1000, kinds: ['memory', 'temperature'], readings, counters: [{ node: 'pi-01', kind: 'cpu', timeMs: t * 1000, sample: { t } }],
        runs: readings.map((r) => ({ node: r.node, kind: 'memory' as const, success: true, durationMs: 2, rows: 1 })),
        outcomes: readings.map((r) => ({ name: r.node, status: 'up' as const, seenUnixSeconds: t })),
      });
    }
    await s.updateRollups(T0 + 7200 + 120);
    db.close();
  });
  after(async () => {
    await pg?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  const counts = (sql: (t: string) => string, tables: string[]) => Object.fromEntries(tables.map((t) => [t, sql(t)]));
  const TABLES = ['nodes', 'node_groups', 'memory', 'temperature', 'temperature_sensors', 'counter_state', 'rounds', 'collector_runs', 'rollup_1m', 'rollup_1h', 'rollup_state'];

  it('copies every table, history included, row for row; a second run copies nothing', async () => {
    const url = pg.createDatabase('migrated');
    const r = await runCli(['migrate', '--from', file, '--to', url], { cwd: dir, timeoutMs: 120_000 });
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /migrate memory: 360\/360 rows/);
    const src = openDb(file, { readonly: true });
    const want = counts((t) => String((src.prepare(`SELECT COUNT(*) AS n FROM ${t}`).get() as { n: number }).n), TABLES);
    const got = counts((t) => pg.psql(`SELECT COUNT(*) FROM ${t}`, 'migrated'), TABLES);
    assert.deepEqual(got, want);
    // Values, not only counts: the same memory series and rollups, the same node ids.
    const q = 'SELECT n.name, m.time, m.used_percent, m.mem_free_bytes FROM memory m JOIN nodes n ON n.id = m.node_id ORDER BY n.name, m.time';
    const rows = (src.prepare(q).all() as Record<string, number | string>[]).map((x) => Object.values(x).join('|')).join('\n');
    assert.equal(pg.psql(q, 'migrated').split('\n').map((l) => l.split('|').map((v, i) => (i === 2 ? String(Number(v)) : v)).join('|')).join('\n'), rows);
    const roll = "SELECT node_id, series, time, round(avg::numeric, 6), count FROM rollup_1h WHERE series = 'memory.used_percent' ORDER BY 1, 2, 3";
    assert.equal(pg.psql(roll, 'migrated'), (src.prepare(roll.replace('round(avg::numeric, 6)', 'printf(\'%.6f\', avg)')).raw(true).all() as unknown[][]).map((x) => x.join('|')).join('\n'));
    src.close();
    // The history spans two days: both partitions exist and hold it.
    assert.ok(Number(pg.psql("SELECT COUNT(*) FROM pg_class WHERE relname LIKE 'memory_p%' AND relispartition", 'migrated')) >= 2);
    // New rows get new ids after the copied ones.
    const store = await openPgStore(url);
    await store.syncNodes([{ name: 'new', groups: [], vars: {}, connection: 'ssh', host: 'new', port: 22 }], T0 + 9000);
    assert.equal(pg.psql("SELECT id FROM nodes WHERE name = 'new'", 'migrated'), '4');
    await store.close();
    const again = await runCli(['migrate', '--from', file, '--to', url], { cwd: dir, timeoutMs: 120_000 });
    assert.equal(again.code, 0, again.stderr);
    assert.match(again.stdout, / 0 rows in /);
  });

  it('resumes an interrupted copy where it stopped, with no row twice', async () => {
    const url = pg.createDatabase('resumed');
    const src = openDb(file, { readonly: true });
    const dst = await openPg(url);
    let batches = 0;
    await assert.rejects(
      copySqliteToPg(src, dst, {
        source: file,
        batchRows: 50,
        onProgress: (p) => {
          if (p.table === 'temperature' && ++batches === 3) throw new Error('interrupted');
        },
      }),
      /interrupted/,
    );
    assert.equal(pg.psql('SELECT COUNT(*) FROM temperature', 'resumed'), '150');
    const summary = await copySqliteToPg(src, dst, { source: file, batchRows: 50 });
    assert.equal(summary.tables.find((t) => t.table === 'temperature')!.skipped, 150);
    assert.equal(pg.psql('SELECT COUNT(*) FROM temperature', 'resumed'), String((src.prepare('SELECT COUNT(*) AS n FROM temperature').get() as { n: number }).n));
    assert.equal(pg.psql('SELECT COUNT(*) FROM memory', 'resumed'), '360');
    await dst.close();
    src.close();
  });

  it('refuses a PostgreSQL store that already has other nodes, and a --to that is not a URL', async () => {
    const url = pg.createDatabase('busy');
    const store = await openPgStore(url);
    await store.syncNodes([{ name: 'other', groups: [], vars: {}, connection: 'ssh', host: 'other', port: 22 }], T0);
    await store.close();
    const r = await runCli(['migrate', '--from', file, '--to', url], { cwd: dir, timeoutMs: 60_000 });
    assert.equal(r.code, 1);
    assert.match(r.stderr, /already has 1 nodes: edgefleet migrate copies into an empty database/);
    const bad = await runCli(['migrate', '--from', file, '--to', join(dir, 'x.db')], { cwd: dir });
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /--to: expected a postgres:\/\//);
  });
});
