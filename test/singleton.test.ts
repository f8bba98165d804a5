/**
 * Singleton jobs across hubs (shared/handler/singleton.ts) on a real PostgreSQL 15: two stores
 * on one database play two hubs. Each period runs once whoever asks; a run longer than the lease
 * keeps it (renewed); a hub that dies holding the lease and the period (it stops renewing,
 * never finishes) has that period taken over once the lease expires, and finished periods are
 * never run again. SQLite (one hub) runs every time, as before.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { oncePerPeriod } from '../shared/handler/singleton.js';
import { openDb, type Store } from '../shared/store/index.js';
import { openPgStore } from '../shared/store/pgStore.js';
import { sqliteStore } from '../shared/store/sqliteStore.js';
import { postgresAvailable, startPostgres, type TestPostgres } from './harness/postgres.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const PERIOD_S = 60;
/** Periods far from now, each test its own (the clock is passed in). */
const at = (period: number) => () => period * PERIOD_S * 1000 + 5_000;

describe('singleton jobs on PostgreSQL: once per period across hubs', { skip: postgresAvailable() ? false : 'no PostgreSQL 15 here' }, () => {
  let pg: TestPostgres;
  let a: Store;
  let b: Store;
  before(async () => {
    pg = await startPostgres();
    const url = pg.createDatabase('singleton');
    a = await openPgStore(url);
    b = await openPgStore(url);
  });
  after(async () => {
    await a?.close();
    await b?.close();
    await pg?.close();
  });

  const runs = async (job: string, period: number) =>
    (await (a as unknown as { pg: { query(s: string, p: unknown[]): Promise<{ owner: string; finished: number | null }[]> } }).pg.query(
      'SELECT owner, finished_unix_ms AS finished FROM job_runs WHERE job = $1 AND period_unix_seconds = $2',
      [job, period * PERIOD_S],
    ));

  it('two hubs asking at once: one runs, the other is told why it skipped; a later tick of the period skips too', async () => {
    let ran = 0;
    const job = async () => {
      ran++;
      await sleep(200);
      return 'done';
    };
    const [ra, rb] = await Promise.all([
      oncePerPeriod(a, 'detectAnomalies', PERIOD_S, job, { owner: 'hub-a', nowMs: at(1000) }),
      oncePerPeriod(b, 'detectAnomalies', PERIOD_S, job, { owner: 'hub-b', nowMs: at(1000) }),
    ]);
    assert.equal(ran, 1);
    assert.deepEqual([ra, rb].filter((r) => r === 'done').length, 1);
    const skipped = [ra, rb].find((r) => r !== 'done') as { skipped: string };
    assert.match(skipped.skipped, /detectAnomalies (runs|of this period ran) on another hub/);
    const again = await oncePerPeriod(b, 'detectAnomalies', PERIOD_S, job, { owner: 'hub-b', nowMs: at(1000) });
    assert.deepEqual(again, { skipped: 'detectAnomalies of this period ran on another hub' });
    assert.equal(ran, 1);
    const rows = await runs('detectAnomalies', 1000);
    assert.equal(rows.length, 1);
    assert.ok(rows[0]!.finished !== null);
    // The next period runs again.
    assert.equal(await oncePerPeriod(b, 'detectAnomalies', PERIOD_S, job, { owner: 'hub-b', nowMs: at(1001) }), 'done');
  });

  it('job_runs keeps the last 100 periods of a job (it never grows without bound)', async () => {
    for (const p of [5000, 5001, 5099, 5100, 5101]) await oncePerPeriod(a, 'tiny', PERIOD_S, async () => p, { owner: 'hub-a', nowMs: at(p) });
    const kept = await (a as unknown as { pg: { query(s: string, p: unknown[]): Promise<{ p: number }[]> } }).pg.query("SELECT period_unix_seconds / 60 AS p FROM job_runs WHERE job = 'tiny' ORDER BY 1", []);
    // After 5101: periods ≥ 5101 - 100 = 5001 stay.
    assert.deepEqual(kept.map((r) => r.p), [5001, 5099, 5100, 5101]);
  });

  it('a run longer than its lease keeps it: the lease is renewed while it runs', async () => {
    let other = 0;
    const long = oncePerPeriod(a, 'geolocate', PERIOD_S, () => sleep(1200).then(() => 'long'), { owner: 'hub-a', leaseMs: 300, nowMs: at(2000) });
    await sleep(700); // past two lease lengths
    const r = await oncePerPeriod(b, 'geolocate', PERIOD_S, async () => other++, { owner: 'hub-b', leaseMs: 300, nowMs: at(2000) });
    assert.deepEqual(r, { skipped: 'geolocate runs on another hub' });
    assert.equal(await long, 'long');
    assert.equal(other, 0);
  });

  it('a hub that dies holding the lease and the period: the period is taken over once the lease expires, and runs once', async () => {
    // Hub a takes the lease and claims the period, then dies: no renewal, no finish, no release.
    assert.equal(await a.tryLease('job:detectAnomalies', 'hub-dead', 400), true);
    assert.equal(await a.claimPeriod('detectAnomalies', 3000 * PERIOD_S, 'hub-dead'), true);
    let ran = 0;
    const job = async () => ++ran;
    assert.deepEqual(await oncePerPeriod(b, 'detectAnomalies', PERIOD_S, job, { owner: 'hub-b', nowMs: at(3000) }), { skipped: 'detectAnomalies runs on another hub' });
    await sleep(500);
    assert.equal(await oncePerPeriod(b, 'detectAnomalies', PERIOD_S, job, { owner: 'hub-b', nowMs: at(3000) }), 1, 'taken over');
    const rows = await runs('detectAnomalies', 3000);
    assert.deepEqual(rows.map((r) => [r.owner, r.finished !== null]), [['hub-b', true]]);
    // Finished: nobody runs it again, the dead hub's name notwithstanding.
    assert.deepEqual(await oncePerPeriod(a, 'detectAnomalies', PERIOD_S, job, { owner: 'hub-c', nowMs: at(3000) }), { skipped: 'detectAnomalies of this period ran on another hub' });
    assert.equal(ran, 1);
  });

  it('a run that fails leaves its period to the next tick, its own hub\'s or another\'s (it is not finished), and lets the lease go', async () => {
    await assert.rejects(oncePerPeriod(a, 'rollup', PERIOD_S, async () => Promise.reject(new Error('boom')), { owner: 'hub-a', nowMs: at(4000) }), /boom/);
    assert.deepEqual(await a.leases('job:rollup'), []);
    assert.equal(await oncePerPeriod(b, 'rollup', PERIOD_S, async () => 'retried', { owner: 'hub-b', nowMs: at(4000) }), 'retried');
    // The same hub's next tick retries its own failed run too.
    await assert.rejects(oncePerPeriod(a, 'rollup', PERIOD_S, async () => Promise.reject(new Error('boom')), { owner: 'hub-a', nowMs: at(4001) }), /boom/);
    assert.equal(await oncePerPeriod(a, 'rollup', PERIOD_S, async () => 'again', { owner: 'hub-a', nowMs: at(4001) }), 'again');
    assert.deepEqual((await runs('rollup', 4001)).map((r) => [r.owner, r.finished !== null]), [['hub-a', true]]);
  });
});

describe('singleton jobs on SQLite: one hub, every run goes ahead', () => {
  it('runs each time it is asked', async () => {
    const s = sqliteStore(openDb(':memory:'));
    let ran = 0;
    for (let i = 0; i < 3; i++) await oncePerPeriod(s, 'detectAnomalies', PERIOD_S, async () => ran++, { nowMs: at(1) });
    assert.equal(ran, 3);
    await s.close();
  });
});
