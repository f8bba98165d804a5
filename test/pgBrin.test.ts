/**
 * PostgreSQL's BRIN indexes on `time` summarize their ranges as partitions fill (autosummarize),
 * on a new database, on one upgraded from migration 18, and on every partition made after: an
 * unsummarized range matches every query, so the rollup job's and a panel's last hour would read
 * the whole day's tail until a vacuum came by. Real PostgreSQL 15.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { MIGRATIONS } from '../shared/store/migrations.js';
import { PARTITIONED_TABLES } from '../shared/store/pgDialect.js';
import { openPgStore, type PgStore } from '../shared/store/pgStore.js';
import { postgresAvailable, postgresPerFile } from './harness/postgres.js';

const DAY = 86400;
const spec = { name: 'a', host: 'a', port: 22, connection: 'ssh' as const, groups: [], vars: {} };

const pg = postgresPerFile();

/** Every BRIN index of a partition: its name and whether it summarizes as it fills. */
async function brin(s: PgStore): Promise<{ name: string; auto: boolean }[]> {
  return (
    await s.pg.query<{ name: string; auto: boolean }>(
      `SELECT ci.relname AS name, COALESCE(ci.reloptions @> ARRAY['autosummarize=on'], false) AS auto FROM pg_index i
         JOIN pg_class ci ON ci.oid = i.indexrelid JOIN pg_am a ON a.oid = ci.relam JOIN pg_class t ON t.oid = i.indrelid
       WHERE a.amname = 'brin' AND t.relispartition ORDER BY 1`,
    )
  ).map((r) => ({ name: r.name, auto: r.auto }));
}

describe('PostgreSQL BRIN autosummarize', { skip: postgresAvailable() ? false : 'no PostgreSQL 15 here' }, () => {
  it('new, upgraded from 18, and every partition made later: each BRIN index summarizes as it fills', async () => {
    const url = pg().createDatabase('brin_auto');
    let s = (await openPgStore(url)) as PgStore;
    await s.syncNodes([spec], Math.floor(Date.now() / 1000));
    const fresh = await brin(s);
    assert.ok(fresh.length >= 2 * PARTITIONED_TABLES.length, `BRIN indexes of the partitions made ahead: ${fresh.length}`);
    assert.deepEqual(fresh.filter((b) => !b.auto), [], 'a new database');

    // A database at migration 18, as the version before wrote it: no partition's BRIN summarizes.
    await s.pg.query(fresh.map((b) => `ALTER INDEX "${b.name}" RESET (autosummarize)`).join('; '));
    await s.pg.query('UPDATE edgefleet_schema SET version = 18');
    assert.equal((await brin(s)).filter((b) => b.auto).length, 0);
    await s.close();
    s = (await openPgStore(url)) as PgStore;
    assert.equal(Number((await s.pg.query<{ v: number }>('SELECT version AS v FROM edgefleet_schema'))[0]!.v), MIGRATIONS.length);
    assert.deepEqual((await brin(s)).filter((b) => !b.auto), [], 'upgraded in place by migration 19');

    // A round 40 days on makes that day's partitions: theirs summarize too.
    const later = Math.floor(Date.now() / 1000) + 40 * DAY;
    await s.writeRound({ timeUnixSeconds: later, startedUnixMs: 0, kinds: ['memory'], readings: [{ node: 'a', timeUnixSeconds: later, memory: { memTotalBytes: 100, memFreeBytes: 50, usedPercent: 50 } }], counters: [], runs: [], outcomes: [] });
    const day = new Date(later * 1000).toISOString().slice(0, 10).replace(/-/g, '');
    const made = (await brin(s)).filter((b) => b.name.includes(`_p${day}`));
    // One per partitioned table with a BRIN index on time (all but inference, which its B-trees serve).
    const parents = Number((await s.pg.query<{ n: number }>("SELECT COUNT(*)::bigint AS n FROM pg_class ci JOIN pg_am a ON a.oid = ci.relam WHERE ci.relkind = 'I' AND a.amname = 'brin'"))[0]!.n);
    assert.equal(parents, PARTITIONED_TABLES.length - 1);
    assert.equal(made.length, parents);
    assert.deepEqual(made.filter((b) => !b.auto), []);
    await s.close();
  });
});
