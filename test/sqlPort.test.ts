/**
 * The SQL port (shared/store/sql.ts) on both stores, SQLite and a real PostgreSQL 15: the same
 * statement text gives the same rows, `?` placeholders (and the `?` that are not), transactions
 * that roll back on a throw and never interleave, savepoints, numbers for every integer.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { postgresMigration } from '../shared/store/pgDialect.js';
import { placeholders, toDollarParams, type SqlDb } from '../shared/store/sql.js';
import type { Store } from '../shared/store/index.js';
import { eachStore } from './harness/stores.js';

/** A scratch table, its DDL in SQLite's dialect translated as the migrations are. */
async function scratch(s: Store): Promise<SqlDb> {
  const ddl = 'CREATE TABLE scratch (id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE, n INTEGER NOT NULL DEFAULT 0, ms INTEGER, x REAL)';
  await s.sql.run(s.kind === 'postgres' ? postgresMigration(ddl, 9999) : ddl);
  return s.sql;
}
const names = async (sql: SqlDb) => (await sql.all<{ name: string }>('SELECT name FROM scratch ORDER BY name')).map((r) => r.name);
const tick = () => new Promise((r) => setImmediate(r));

describe('placeholders', () => {
  it('numbers each ? outside strings, quoted names and comments', () => {
    assert.equal(toDollarParams(`SELECT ? AS a, '?' AS "b?", 'it''s ?' -- ?\n, ? /* ? */ WHERE x = ?`), `SELECT $1 AS a, '?' AS "b?", 'it''s ?' -- ?\n, $2 /* ? */ WHERE x = $3`);
    assert.equal(placeholders(3), '?, ?, ?');
    assert.throws(() => placeholders(0), /at least one value/);
  });
});

eachStore('SQL port', (k) => {
  it('runs one text on both: ? parameters, upsert, RETURNING, quoted camelCase alias, undefined as NULL and booleans as 1/0', async () => {
    const s = await k.open();
    const sql = await scratch(s);
    const a = await sql.get<{ id: number }>('INSERT INTO scratch (name, n) VALUES (?, ?) RETURNING id', ['a', 1]);
    const b = await sql.get<{ id: number }>('INSERT INTO scratch (name, n, ms) VALUES (?, ?, ?) RETURNING id', ['b', true, undefined]);
    assert.deepEqual([a, b], [{ id: 1 }, { id: 2 }]);
    const up = await sql.run('INSERT INTO scratch (name, n) VALUES (?, ?) ON CONFLICT (name) DO UPDATE SET n = scratch.n + excluded.n', ['a', 5]);
    assert.equal(up.changes, 1);
    const none = await sql.run('INSERT INTO scratch (name) VALUES (?) ON CONFLICT DO NOTHING', ['a']);
    assert.equal(none.changes, 0);
    assert.deepEqual(await sql.all(`SELECT name, n AS "nowCount", COALESCE(ms, -1) AS ms, '?' AS q FROM scratch WHERE name IN (${placeholders(2)}) ORDER BY name`, ['a', 'b']), [
      { name: 'a', nowCount: 6, ms: -1, q: '?' },
      { name: 'b', nowCount: 1, ms: -1, q: '?' },
    ]);
    assert.equal(await sql.get('SELECT name FROM scratch WHERE name = ?', ['zz']), undefined);
    assert.equal((await sql.run('DELETE FROM scratch WHERE n < ?', [100])).changes, 2);
    await s.close();
  });

  it('gives integers, big unix-ms values, COUNT, SUM and AVG as JS numbers, the same on both', async () => {
    const s = await k.open();
    const sql = await scratch(s);
    const ms = 1_790_000_000_123; // past 2^32, within 2^53
    for (const [i, name] of ['a', 'b', 'c'].entries()) await sql.run('INSERT INTO scratch (name, n, ms, x) VALUES (?, ?, ?, ?)', [name, i + 1, ms + i, 0.5 * i]);
    const row = await sql.get('SELECT COUNT(*) AS count, SUM(n) AS sum, AVG(n) AS avg, MAX(ms) AS ms, SUM(x) AS x, MIN(id) AS id FROM scratch');
    // Hand-worked: n = 1, 2, 3; ms + 0, 1, 2; x = 0, 0.5, 1.
    assert.deepEqual(row, { count: 3, sum: 6, avg: 2, ms: ms + 2, x: 1.5, id: 1 });
    for (const v of Object.values(row!)) assert.equal(typeof v, 'number');
    await s.close();
  });

  it('rolls a transaction back when fn throws, and rethrows fn\'s own error unchanged', async () => {
    const s = await k.open();
    const sql = await scratch(s);
    class Refused extends Error {}
    const err = new Refused('no');
    await assert.rejects(
      sql.tx(async (t) => {
        await t.run('INSERT INTO scratch (name) VALUES (?)', ['gone']);
        assert.deepEqual(await names(t), ['gone'], 'the transaction sees its own write');
        throw err;
      }),
      (e) => e === err,
    );
    assert.deepEqual(await names(sql), []);
    // A failing statement rolls back the rows before it too.
    await assert.rejects(sql.tx(async (t) => {
      await t.run('INSERT INTO scratch (name) VALUES (?)', ['x']);
      await t.run('INSERT INTO scratch (name) VALUES (?)', ['x']);
    }));
    assert.deepEqual(await names(sql), []);
    assert.equal(await sql.tx(async (t) => (await t.run('INSERT INTO scratch (name) VALUES (?)', ['kept'])).changes), 1);
    assert.deepEqual(await names(sql), ['kept']);
    await s.close();
  });

  it('a nested tx is a savepoint; the outer port called inside a transaction joins it', async () => {
    const s = await k.open();
    const sql = await scratch(s);
    await sql.tx(async (t) => {
      await t.run('INSERT INTO scratch (name) VALUES (?)', ['outer']);
      await assert.rejects(t.tx(async (u) => {
        await u.run('INSERT INTO scratch (name) VALUES (?)', ['inner']);
        throw new Error('inner fails');
      }), /inner fails/);
      await sql.tx(async (u) => u.run('INSERT INTO scratch (name) VALUES (?)', ['inner2']));
      assert.deepEqual(await names(sql), ['inner2', 'outer'], 'the outer port inside sees the open transaction');
    });
    assert.deepEqual(await names(sql), ['inner2', 'outer']);
    await s.close();
  });

  it('concurrent transactions never interleave their effects: each increment counted once, a failed one loses only its own rows', async () => {
    const s = await k.open();
    const sql = await scratch(s);
    await sql.run("INSERT INTO scratch (name, n) VALUES ('counter', 0)");
    const N = 20;
    const results = await Promise.allSettled(
      Array.from({ length: N }, (_, i) =>
        sql.tx(async (t) => {
          await t.run("UPDATE scratch SET n = n + 1 WHERE name = 'counter'");
          await t.run('INSERT INTO scratch (name) VALUES (?)', [`t${String(i).padStart(2, '0')}`]);
          const mine = await t.all<{ name: string }>("SELECT name FROM scratch WHERE name LIKE 't%' ORDER BY name");
          assert.ok(mine.some((r) => r.name === `t${String(i).padStart(2, '0')}`));
          if (i % 5 === 4) throw new Error(`tx ${i} fails`);
        }),
      ),
    );
    assert.equal(results.filter((r) => r.status === 'rejected').length, 4);
    // Hand-worked: 20 transactions, those with i % 5 == 4 (4, 9, 14, 19) roll back.
    const kept = Array.from({ length: N }, (_, i) => i).filter((i) => i % 5 !== 4).map((i) => `t${String(i).padStart(2, '0')}`);
    assert.deepEqual(await names(sql), ['counter', ...kept]);
    assert.deepEqual(await sql.get("SELECT n FROM scratch WHERE name = 'counter'"), { n: 16 });
    await s.close();
  });

  it('a write from outside waits for the open transaction (SQLite: one connection), and a round written meanwhile survives its rollback', async () => {
    const s = await k.open();
    const sql = await scratch(s);
    await s.syncNodes([{ name: 'a', groups: [], vars: {}, connection: 'ssh', host: 'a', port: 22 }], 100);
    const events: string[] = [];
    let inTx!: () => void;
    const opened = new Promise<void>((r) => (inTx = r));
    const tx = sql.tx(async (t) => {
      await t.run('INSERT INTO scratch (name) VALUES (?)', ['rolled back']);
      inTx();
      // Let the other callers start (a macrotask gap: the rule is broken here on purpose).
      for (let i = 0; i < 5; i++) await tick();
      events.push('tx ends');
      throw new Error('rollback');
    });
    await opened;
    const outside = sql.run('INSERT INTO scratch (name) VALUES (?)', ['outside']).then(() => events.push('outside write'));
    const round = s.writeRound({ timeUnixSeconds: 200, startedUnixMs: 200_000, kinds: ['cpu'], readings: [{ node: 'a', timeUnixSeconds: 200, load: { load1: 1, load5: 2, load15: 3 } }], counters: [], runs: [], outcomes: [] });
    await assert.rejects(tx, /rollback/);
    await outside;
    await round;
    if (k.name === 'sqlite') assert.deepEqual(events, ['tx ends', 'outside write']);
    assert.deepEqual(await names(sql), ['outside']);
    assert.deepEqual(await sql.all('SELECT time, load1 FROM load'), [{ time: 200, load1: 1 }]);
    await s.close();
  });
});
