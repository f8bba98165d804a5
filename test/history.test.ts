import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { NodeSpec } from '../shared/domain/index.js';
import { applyRetention, openDb, readingsWriter, syncNodes, updateRollups, type NodeReadings } from '../shared/store/index.js';

const T0 = 1_790_000_000 - (1_790_000_000 % 3600); // an hour boundary
const spec = (name: string): NodeSpec => ({ name, groups: [], vars: {}, connection: 'ssh', host: name, port: 22 });

/** 10-second rounds for `seconds`, memory used % = a known function of time. */
function fill(db: ReturnType<typeof openDb>, nodes: string[], from: number, seconds: number) {
  const w = readingsWriter(db);
  for (let t = from; t < from + seconds; t += 10) {
    const readings: NodeReadings[] = nodes.map((node, i) => ({
      node,
      timeUnixSeconds: t,
      memory: { memTotalBytes: 1000, memFreeBytes: 500, usedPercent: i * 10 + ((t - from) % 60) / 10 },
      temperature: [{ source: 'thermal_zone', sensor: 'thermal_zone0', type: 'cpu-thermal', celsius: 40 + i }],
    }));
    w.writeRound(readings, [], []);
  }
}

describe('rollups', () => {
  it('makes 1-minute and 1-hour min/avg/max from raw samples, only for final buckets', async () => {
    const db = openDb(':memory:');
    syncNodes(db, [spec('a'), spec('b')], T0);
    fill(db, ['a', 'b'], T0, 7200 + 120); // two hours and two minutes
    const now = T0 + 7200 + 120; // the last two minutes are not final yet (LATE_SECONDS)
    const [m, h, h6] = await updateRollups(db, now);
    assert.equal(m!.level, '1m');
    const rows = db.prepare("SELECT time, min, avg, max, count FROM rollup_1m WHERE series = 'memory.used_percent' AND node_id = (SELECT id FROM nodes WHERE name = 'b') ORDER BY time").all() as Record<string, number>[];
    assert.equal(rows.length, 121, 'minutes up to now − 60 s, rounded down');
    // Each minute holds used % = 10 + 0, 1, … 5: min 10, max 15, avg 12.5, 6 samples.
    assert.deepEqual(rows[0], { time: T0, min: 10, avg: 12.5, max: 15, count: 6 });
    const hours = db.prepare("SELECT time, min, avg, max, count FROM rollup_1h WHERE series = 'memory.used_percent' AND node_id = (SELECT id FROM nodes WHERE name = 'a') ORDER BY time").all();
    assert.deepEqual(hours, [
      { time: T0, min: 0, avg: 2.5, max: 5, count: 360 },
      { time: T0 + 3600, min: 0, avg: 2.5, max: 5, count: 360 },
    ]);
    assert.equal(h!.level, '1h');
    assert.equal(h6!.level, '6h');
    assert.equal(h6!.buckets, 0, 'no 6-hour bucket is final yet');
    const temps = db.prepare("SELECT DISTINCT label, avg FROM rollup_1h WHERE series = 'temperature.celsius' ORDER BY avg").all();
    assert.deepEqual(temps, [{ label: 'thermal_zone0', avg: 40 }, { label: 'thermal_zone0', avg: 41 }]);
  });

  it('continues from its watermark: new data rolls up, old buckets are not redone', async () => {
    const db = openDb(':memory:');
    syncNodes(db, [spec('a')], T0);
    fill(db, ['a'], T0, 600);
    await updateRollups(db, T0 + 600 + 60);
    const first = db.prepare('SELECT COUNT(*) AS n FROM rollup_1m').get() as { n: number };
    // A late sample inside an already final minute is not rolled up again (that minute is done).
    fill(db, ['a'], T0 + 600, 600);
    const [m] = await updateRollups(db, T0 + 1200 + 60);
    assert.equal(m!.fromUnixSeconds, T0 + 600);
    assert.equal(m!.buckets, 10);
    const after = db.prepare('SELECT COUNT(*) AS n FROM rollup_1m').get() as { n: number };
    assert.equal(after.n, 2 * first.n, 'ten more minutes, the same series');
  });
});

describe('retention', () => {
  it('deletes raw samples and rollups past their days, keeps the rest', async () => {
    const db = openDb(':memory:');
    syncNodes(db, [spec('a'), spec('b')], T0);
    fill(db, ['a', 'b'], T0, 3 * 3600);
    await updateRollups(db, T0 + 3 * 3600 + 60);
    const now = T0 + 86400 + 3600 + 600; // one day after the second hour ended, plus change
    const deleted = await applyRetention(db, { rawDays: 1, rollup1mDays: 1, rollup1hDays: 0, rollup6hDays: 0 }, now);
    const cutoff = now - 86400;
    assert.ok(deleted.memory! > 0);
    const oldest = db.prepare('SELECT MIN(time) AS t FROM memory').get() as { t: number };
    assert.ok(oldest.t >= cutoff, 'no raw sample older than the cutoff');
    assert.equal((db.prepare('SELECT COUNT(*) AS n FROM memory WHERE time >= ?').get(cutoff) as { n: number }).n, 2 * ((T0 + 3 * 3600 - cutoff) / 10));
    assert.equal((db.prepare('SELECT MIN(time) AS t FROM rollup_1m').get() as { t: number }).t >= cutoff - 60, true);
    assert.equal(deleted.rollup_1h, 0, 'rollup1hDays 0 keeps them forever');
    // Two nodes × three hours × the five series the test data fills (temperature, four of memory).
    assert.equal((db.prepare('SELECT COUNT(*) AS n FROM rollup_1h').get() as { n: number }).n, 2 * 3 * 5);
  });
});
