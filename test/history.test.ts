/**
 * Rollups and retention, one suite on two stores (test/harness/stores.ts eachStore): the same
 * rounds written through Store.writeRound on SQLite and on a real PostgreSQL 15, the same
 * expected values (worked out from the data), except where PostgreSQL's retention keeps whole
 * days (docs/postgres.md).
 */
import assert from 'node:assert/strict';
import { it } from 'node:test';
import type { NodeSpec } from '../shared/domain/index.js';
import type { NodeReadings, Store } from '../shared/store/index.js';
import { eachStore } from './harness/stores.js';

const T0 = 1_790_000_000 - (1_790_000_000 % 3600); // an hour boundary
const spec = (name: string): NodeSpec => ({ name, groups: [], vars: {}, connection: 'ssh', host: name, port: 22 });

/** 10-second rounds for `seconds`, memory used % = a known function of time. */
async function fill(s: Store, nodes: string[], from: number, seconds: number) {
  for (let t = from; t < from + seconds; t += 10) {
    const readings: NodeReadings[] = nodes.map((node, i) => ({
      node,
      timeUnixSeconds: t,
      memory: { memTotalBytes: 1000, memFreeBytes: 500, usedPercent: i * 10 + ((t - from) % 60) / 10 },
      temperature: [{ source: 'thermal_zone', sensor: 'thermal_zone0', type: 'cpu-thermal', celsius: 40 + i }],
    }));
    await s.writeRound({ timeUnixSeconds: t, startedUnixMs: t * 1000, kinds: ['memory', 'temperature'], readings, counters: [], runs: [], outcomes: [] });
  }
}
const n = async (s: Store, sql: string, params: number[] = []) => Number((await s.sql.get<{ n: number }>(sql, params))!.n);

eachStore('rollups', (k) => {
  it('makes 1-minute and 1-hour min/avg/max from raw samples, only for final buckets', async () => {
    const s = await k.open();
    await s.syncNodes([spec('a'), spec('b')], T0);
    await fill(s, ['a', 'b'], T0, 7200 + 120); // two hours and two minutes
    const now = T0 + 7200 + 120; // the last two minutes are not final yet (LATE_SECONDS)
    const [m, h, h6] = await s.updateRollups(now);
    assert.equal(m!.level, '1m');
    const rows = await s.sql.all("SELECT time, min, avg, max, count FROM rollup_1m WHERE series = 'memory.used_percent' AND node_id = (SELECT id FROM nodes WHERE name = 'b') ORDER BY time");
    assert.equal(rows.length, 121, 'minutes up to now − 60 s, rounded down');
    // Each minute holds used % = 10 + 0, 1, … 5: min 10, max 15, avg 12.5, 6 samples.
    assert.deepEqual(rows[0], { time: T0, min: 10, avg: 12.5, max: 15, count: 6 });
    const hours = await s.sql.all("SELECT time, min, avg, max, count FROM rollup_1h WHERE series = 'memory.used_percent' AND node_id = (SELECT id FROM nodes WHERE name = 'a') ORDER BY time");
    assert.deepEqual(hours, [
      { time: T0, min: 0, avg: 2.5, max: 5, count: 360 },
      { time: T0 + 3600, min: 0, avg: 2.5, max: 5, count: 360 },
    ]);
    assert.equal(h!.level, '1h');
    assert.equal(h6!.level, '6h');
    assert.equal(h6!.buckets, 0, 'no 6-hour bucket is final yet');
    const temps = await s.sql.all("SELECT DISTINCT label, avg FROM rollup_1h WHERE series = 'temperature.celsius' ORDER BY avg");
    assert.deepEqual(temps, [{ label: 'thermal_zone0', avg: 40 }, { label: 'thermal_zone0', avg: 41 }]);
    await s.close();
  });

  it('continues from its watermark: new data rolls up, old buckets are not redone', async () => {
    const s = await k.open();
    await s.syncNodes([spec('a')], T0);
    await fill(s, ['a'], T0, 600);
    await s.updateRollups(T0 + 600 + 60);
    const first = await n(s, 'SELECT COUNT(*) AS n FROM rollup_1m');
    // A late sample inside an already final minute is not rolled up again (that minute is done).
    await fill(s, ['a'], T0 + 600, 600);
    const [m] = await s.updateRollups(T0 + 1200 + 60);
    assert.equal(m!.fromUnixSeconds, T0 + 600);
    assert.equal(m!.buckets, 10);
    assert.equal(await n(s, 'SELECT COUNT(*) AS n FROM rollup_1m'), 2 * first, 'ten more minutes, the same series');
    await s.close();
  });
});

eachStore('retention', (k) => {
  it('deletes raw samples and rollups past their days, keeps the rest', async () => {
    const s = await k.open();
    await s.syncNodes([spec('a'), spec('b')], T0);
    await fill(s, ['a', 'b'], T0, 3 * 3600);
    await s.updateRollups(T0 + 3 * 3600 + 60);
    const now = T0 + 86400 + 3600 + 600; // one day after the second hour ended, plus change
    const deleted = await s.applyRetention({ rawDays: 1, rollup1mDays: 1, rollup1hDays: 0, rollup6hDays: 0 }, now);
    const cutoff = now - 86400;
    assert.equal(deleted.rollup_1h, 0, 'rollup1hDays 0 keeps them forever');
    // Two nodes × three hours × the five series the test data fills (temperature, four of memory).
    assert.equal(await n(s, 'SELECT COUNT(*) AS n FROM rollup_1h'), 2 * 3 * 5);
    if (k.name === 'sqlite') {
      assert.ok(deleted.memory! > 0);
      assert.ok((await n(s, 'SELECT MIN(time) AS n FROM memory')) >= cutoff, 'no raw sample older than the cutoff');
      assert.equal(await n(s, 'SELECT COUNT(*) AS n FROM memory WHERE time >= ?', [cutoff]), 2 * ((T0 + 3 * 3600 - cutoff) / 10));
      assert.ok((await n(s, 'SELECT MIN(time) AS n FROM rollup_1m')) >= cutoff - 60);
    } else {
      // The cutoff falls inside the data's UTC day: that day's partitions stay whole until it has passed.
      assert.ok(Math.floor(cutoff / 86400) === Math.floor(T0 / 86400), 'the test data and the cutoff share a day');
      assert.deepEqual([deleted.memory, deleted.rollup_1m], [0, 0]);
      assert.equal(await n(s, 'SELECT COUNT(*) AS n FROM memory'), 2 * (3 * 3600) / 10);
      const later = await s.applyRetention({ rawDays: 1, rollup1mDays: 1, rollup1hDays: 0, rollup6hDays: 0 }, (Math.floor(T0 / 86400) + 2) * 86400);
      assert.equal(later.memory, 2 * (3 * 3600) / 10, 'the day dropped whole once wholly past the cutoff');
      assert.equal(await n(s, 'SELECT COUNT(*) AS n FROM rollup_1m'), 0);
    }
    await s.close();
  });
});
