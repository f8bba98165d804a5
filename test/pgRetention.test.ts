/**
 * PostgreSQL retention detaches every table's expired days in one transaction, then drops them
 * (pgPartitions.ts dropExpiredPartitions), on a real PostgreSQL 15. A writer in the middle of
 * a round — holding one table and about to write another — must neither deadlock with it nor
 * lose its round, and every expired day still goes; so do the tables a retention that died
 * between its two steps left detached.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { NodeReadings } from '../shared/store/index.js';
import { openPgStore, type PgStore } from '../shared/store/pgStore.js';
import { postgresAvailable, postgresPerFile } from './harness/postgres.js';

const DAY = 86400;
const NOW = Math.floor(Date.now() / 1000);
const OLD = Math.floor(NOW / DAY) * DAY - 10 * DAY; // a UTC midnight ten days back
const spec = { name: 'a', host: 'a', port: 22, connection: 'ssh' as const, groups: [], vars: {} };

const pg = postgresPerFile();

const reading = (t: number): NodeReadings => ({
  node: 'a',
  timeUnixSeconds: t,
  cpu: [{ cpu: 'all', usagePercent: 1, userPercent: 1, nicePercent: 0, systemPercent: 0, iowaitPercent: 0, irqPercent: 0, softirqPercent: 0, stealPercent: 0, idlePercent: 99, intervalSeconds: 10 }],
  memory: { memTotalBytes: 100, memFreeBytes: 50, usedPercent: 50 },
});

describe('PostgreSQL retention, all tables at once', { skip: postgresAvailable() ? false : 'no PostgreSQL 15 here' }, () => {
  it('drops two expired days of every table in one go, beside a writer holding memory and then writing cpu: no deadlock, nothing lost', async () => {
    const s = (await openPgStore(pg().createDatabase('retention_once'))) as PgStore;
    await s.syncNodes([spec], OLD);
    // Two old days, 6 rounds each, and one recent round.
    for (const day of [OLD, OLD + DAY]) for (let i = 0; i < 6; i++) await s.writeRound({ timeUnixSeconds: day + i * 600, startedUnixMs: 0, kinds: ['cpu', 'memory'], readings: [reading(day + i * 600)], counters: [], runs: [], outcomes: [] });
    await s.writeRound({ timeUnixSeconds: NOW, startedUnixMs: 0, kinds: ['cpu', 'memory'], readings: [reading(NOW)], counters: [], runs: [], outcomes: [] });
    const before = Number((await s.pg.query<{ n: number }>("SELECT COUNT(*)::bigint AS n FROM pg_class WHERE relname LIKE '%_p%' AND relkind = 'r'"))[0]!.n);

    // The writer: a round's transaction that has written memory and will write cpu.
    const w = await s.pg.pool.connect();
    try {
      await w.query('BEGIN');
      await w.query('INSERT INTO memory (node_id, time, mem_total_bytes, mem_free_bytes, used_percent) VALUES (1, $1, 100, 40, 60)', [NOW + 10]);
      const retention = s.applyRetention({ rawDays: 3, rollup1mDays: 3, rollup1hDays: 0, rollup6hDays: 0 }, NOW);
      // Let retention take the locks it can (cpu sorts before memory) and wait on memory.
      await new Promise((r) => setTimeout(r, 150));
      await w.query("INSERT INTO cpu (node_id, time, cpu, usage_percent, user_percent, nice_percent, system_percent, iowait_percent, irq_percent, softirq_percent, steal_percent, idle_percent, interval_seconds) VALUES (1, $1, 'all', 7, 0, 0, 0, 0, 0, 0, 0, 93, 10)", [NOW + 10]);
      await w.query('COMMIT');
      const deleted = await retention;
      assert.equal(deleted.cpu, 12, 'both old days of cpu');
      assert.equal(deleted.memory, 12, 'both old days of memory');
    } finally {
      w.release();
    }
    const left = await s.pg.query<{ t: number; n: number }>('SELECT MIN(time)::bigint AS t, COUNT(*)::bigint AS n FROM memory');
    assert.deepEqual([Number(left[0]!.t), Number(left[0]!.n)], [NOW, 2], "the recent round and the writer's row");
    assert.equal(Number((await s.pg.query<{ n: number }>("SELECT COUNT(*)::bigint AS n FROM cpu WHERE usage_percent = 7"))[0]!.n), 1, "the writer's cpu row");
    const old = await s.pg.query<{ relname: string }>(
      `SELECT relname FROM pg_class WHERE relkind = 'r' AND relname NOT LIKE 'inference_%' AND (relname LIKE '%_p${new Date(OLD * 1000).toISOString().slice(0, 10).replace(/-/g, '')}' OR relname LIKE '%_p${new Date((OLD + DAY) * 1000).toISOString().slice(0, 10).replace(/-/g, '')}')`,
    );
    // (inference has its own retention, inferenceRetention.ts)
    assert.deepEqual(old, [], 'no partition of either old day is left, of any raw table or rollup_1m');
    const afterCount = Number((await s.pg.query<{ n: number }>("SELECT COUNT(*)::bigint AS n FROM pg_class WHERE relname LIKE '%_p%' AND relkind = 'r'"))[0]!.n);
    assert.ok(before - afterCount >= 2 * 2, `partitions ${before} → ${afterCount}`);
    // A write to an old day after the drop makes its partition again (the cache forgot it).
    await s.writeRound({ timeUnixSeconds: OLD, startedUnixMs: 0, kinds: ['cpu'], readings: [reading(OLD)], counters: [], runs: [], outcomes: [] });
    assert.equal(Number((await s.pg.query<{ n: number }>('SELECT COUNT(*)::bigint AS n FROM cpu WHERE time = $1', [OLD]))[0]!.n), 1);
    await s.close();
  });

  it('drops what a retention that died after its detach left behind, and only that', async () => {
    const s = (await openPgStore(pg().createDatabase('retention_leftover'))) as PgStore;
    await s.syncNodes([spec], OLD);
    const day = (t: number) => new Date(t * 1000).toISOString().slice(0, 10).replace(/-/g, '');
    for (const t of [OLD, NOW]) await s.writeRound({ timeUnixSeconds: t, startedUnixMs: 0, kinds: ['cpu', 'memory'], readings: [reading(t)], counters: [], runs: [], outcomes: [] });
    // The first step of a retention, and then nothing: the old day's cpu partition detached, not dropped.
    await s.pg.query(`ALTER TABLE cpu DETACH PARTITION cpu_p${day(OLD)}`);
    // A table of the user's own whose name only looks like one stays.
    await s.pg.query('CREATE TABLE my_cpu_p20200101 (x int)');
    // Every other partition of the expired days, attached (made ahead for every partitioned table).
    const expired = Number((await s.pg.query<{ n: number }>(`SELECT COUNT(*)::bigint AS n FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid WHERE c.relname ~ '_p[0-9]{8}$' AND c.relname NOT LIKE 'inference_%' AND substring(c.relname from '_p([0-9]{8})$') < '${day(NOW - 3 * DAY)}'`))[0]!.n);
    const deleted = await s.applyRetention({ rawDays: 3, rollup1mDays: 3, rollup1hDays: 0, rollup6hDays: 0 }, NOW);
    assert.equal(deleted.memory, 1, "memory's old day, attached, dropped as usual");
    const names = (await s.pg.query<{ relname: string }>(`SELECT relname FROM pg_class WHERE relkind = 'r' AND relname IN ('cpu_p${day(OLD)}', 'memory_p${day(OLD)}', 'my_cpu_p20200101', 'cpu_p${day(NOW)}')`)).map((r) => r.relname).sort();
    assert.deepEqual(names, [`cpu_p${day(NOW)}`, 'my_cpu_p20200101']);
    assert.equal(s.lastRetention.tables, expired + 1, `the ${expired} partitions detached, and the cpu leftover`);
    assert.ok(s.lastRetention.detachMs! >= 0 && s.lastRetention.dropMs! >= 0);
    await s.close();
  });
});
