/**
 * bench:store's fill (bench/storeIngest.ts) writes the hours before the measured one by bulk SQL,
 * rollups included, so that a day of 1,000 nodes fills in minutes. What it writes must be what
 * the collection path and the rollup job would have: here, on both stores, a small fleet's hours
 * filled (raw rows and rollups by the fill, then the rollup job on the last hour) against the
 * same raw rows rolled up by updateRollups alone — every rollup row equal, every watermark equal.
 * The job is the independent source: the fill's statements are not the job's.
 */
import assert from 'node:assert/strict';
import { it } from 'node:test';
import type { NodeSpec } from '../shared/domain/index.js';
import type { Store } from '../shared/store/index.js';
import type { PgStore } from '../shared/store/pgStore.js';
import type { SqliteStore } from '../shared/store/sqliteStore.js';
import { fillHours, fillRaw, pgTarget, sqliteTarget, type Target } from '../bench/storeIngest.js';
import { eachStore } from './harness/stores.js';

const DAY = 86400;
const START = 1_790_000_000 - (1_790_000_000 % DAY); // a UTC midnight
const NODES = 3;
const names = Array.from({ length: NODES }, (_, i) => `node-${i}`);
const specs: NodeSpec[] = names.map((name) => ({ name, host: name, port: 22, connection: 'ssh', groups: [], vars: {} }));

const target = (s: Store): Target => (s.kind === 'sqlite' ? sqliteTarget((s as SqliteStore).sqlite, ':memory:') : pgTarget(s as PgStore));

async function rows(s: Store, table: string): Promise<unknown[][]> {
  const sql = `SELECT node_id, series, label, time, min, avg, max, count FROM ${table} ORDER BY node_id, series, label, time`;
  const got = s.kind === 'sqlite' ? ((s as SqliteStore).sqlite.prepare(sql).all() as Record<string, unknown>[]) : await (s as PgStore).pg.query<Record<string, unknown>>(sql);
  return got.map((r) => Object.values(r).map((v) => (typeof v === 'string' && /^-?\d+(\.\d+)?$/.test(v) ? Number(v) : v)));
}

async function marks(s: Store): Promise<unknown[]> {
  const sql = 'SELECT level, done_until_unix_seconds AS t FROM rollup_state ORDER BY level';
  const got = s.kind === 'sqlite' ? ((s as SqliteStore).sqlite.prepare(sql).all() as Record<string, unknown>[]) : await (s as PgStore).pg.query<Record<string, unknown>>(sql);
  return got.map((r) => `${r.level as string}=${Number(r.t)}`);
}

eachStore('bench:store fill', (k) => {
  it('rolls up the filled hours as updateRollups does, which then goes on from the fill as if it had done it', async () => {
    // 7 h filled (a 6-hour bucket whole, the next begun), the 8th hour rolled up by the job.
    const fillTo = START + 7 * 3600;
    const end = START + 8 * 3600;
    const filled = await k.open();
    const job = await k.open();
    try {
      for (const s of [filled, job]) await s.syncNodes(specs, START);
      const f = target(filled);
      const j = target(job);
      await fillHours(f, START, fillTo);
      await fillRaw(f, fillTo, end);
      // The same raw rows, every rollup by the job.
      for (let h = START; h < end; h += 3600) await fillRaw(j, h, h + 3600);
      await filled.updateRollups(end + 120);
      await job.updateRollups(end + 120);
      for (const table of ['rollup_1m', 'rollup_1h', 'rollup_6h']) {
        const want = await rows(job, table);
        const got = await rows(filled, table);
        // 3 nodes × (2 sensors + 5 cpus + 7 modes + 3 loads + 9 memory values + 3 × 2 mounts + 8 × 2 interfaces) = 144 series;
        // 6-hour buckets only whole ones below the last whole hour (the 8th hour's bucket is not final).
        const buckets = { rollup_1m: 8 * 60, rollup_1h: 8, rollup_6h: 1 }[table]!;
        assert.equal(want.length, 144 * buckets, `${table}: the job's rows`);
        assert.equal(got.length, want.length, `${table}: as many rows`);
        for (let i = 0; i < want.length; i++) {
          // avg (column 5) to 1e-12: a coarser bucket's weighted mean sums its minutes in the
          // order the plan reads them, which PostgreSQL's plans for the two statements differ in.
          const [g, w] = [got[i]!, want[i]!];
          assert.deepEqual([...g.slice(0, 5), ...g.slice(6)], [...w.slice(0, 5), ...w.slice(6)], `${table} row ${i}`);
          assert.ok(Math.abs((g[5] as number) - (w[5] as number)) <= 1e-12 * Math.max(1, Math.abs(w[5] as number)), `${table} row ${i}: avg ${g[5]} vs ${w[5]}`);
        }
      }
      assert.deepEqual(await marks(filled), await marks(job));
      assert.deepEqual(await marks(job), [`1h=${end}`, `1m=${end + 60}`, `6h=${START + 6 * 3600}`]);
    } finally {
      await filled.close();
      await job.close();
    }
  });
});
