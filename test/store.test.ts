/**
 * The store's nodes table and its SQLite file.
 *
 * 'nodes table' is one suite, two stores (test/harness/stores.ts eachStore): every case goes
 * through the Store interface (syncNodes, listNodes, a round's outcomes by writeRound, the SQL
 * port for the raw vars_json Grafana reads) and runs on SQLite and on a real PostgreSQL 15.
 * 'database' stays SQLite: it is about the file itself (created with its folder, WAL or DELETE
 * journal) and SQLite's own migrate(db) on a raw better-sqlite3 handle; PostgreSQL's schema
 * cases (created from the same list, upgraded in place, a failed migration rolled back, a newer
 * schema refused) are storeBoth.test.ts's 'PostgreSQL schema'.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import Database from 'better-sqlite3';
import type { NodeSpec } from '../shared/domain/index.js';
import { MIGRATIONS } from '../shared/store/migrations.js';
import { listNodes, migrate, openDb, schemaVersion, syncNodes, type RoundWrite, type Store } from '../shared/store/index.js';
import { eachStore } from './harness/stores.js';

const dir = mkdtempSync(join(tmpdir(), 'edgefleet-store-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const spec = (name: string, extra: Partial<NodeSpec> = {}): NodeSpec => ({
  name,
  groups: ['pis'],
  vars: { ansible_host: '10.0.0.1' },
  connection: 'ssh',
  host: '10.0.0.1',
  port: 22,
  ...extra,
});

describe('database', () => {
  it('creates a missing file (and its folder) in WAL mode at the latest schema', () => {
    const db = openDb(join(dir, 'new', 'sub', 'e.db'));
    assert.equal(schemaVersion(db), MIGRATIONS.length);
    assert.equal(db.pragma('journal_mode', { simple: true }), 'wal');
    assert.ok(Number(db.pragma('busy_timeout', { simple: true })) > 0);
    const tables = (db.prepare("SELECT name FROM sqlite_master WHERE type = 'table'").all() as { name: string }[]).map((t) => t.name);
    for (const t of ['nodes', 'temperature', 'cpu', 'memory', 'storage', 'network']) assert.ok(tables.includes(t), t);
    db.close();
  });

  it('uses journal_mode=DELETE when asked (a database on a network volume)', () => {
    const db = openDb(join(dir, 'nfs.db'), { journalMode: 'DELETE' });
    assert.equal(db.pragma('journal_mode', { simple: true }), 'delete');
    db.close();
  });

  it('upgrades an old database in place without losing rows', () => {
    const path = join(dir, 'old.db');
    const v1 = openDb(path);
    syncNodes(v1, [spec('pi-01')], 100);
    v1.prepare('INSERT INTO memory (node_id, time, mem_total_bytes, mem_free_bytes, used_percent) VALUES (1, ?, ?, ?, ?)').run(100, 4096, 1024, 75);
    v1.close();
    const db = new Database(path);
    const applied = migrate(db, [...MIGRATIONS, 'ALTER TABLE memory ADD COLUMN shmem_bytes INTEGER;']);
    assert.deepEqual(applied, [MIGRATIONS.length + 1]);
    assert.equal(schemaVersion(db), MIGRATIONS.length + 1);
    assert.deepEqual(db.prepare('SELECT n.name AS node, time, used_percent, shmem_bytes FROM memory JOIN nodes n ON n.id = node_id').all(), [{ node: 'pi-01', time: 100, used_percent: 75, shmem_bytes: null }]);
    assert.equal(listNodes(db).length, 1);
    db.close();
  });

  it('rolls a failed migration back whole and keeps the old schema', () => {
    const path = join(dir, 'fail.db');
    openDb(path).close();
    const db = new Database(path);
    assert.throws(() => migrate(db, [...MIGRATIONS, 'CREATE TABLE extra (x); SELECT * FROM no_such_table;']), /no_such_table/);
    assert.equal(schemaVersion(db), MIGRATIONS.length);
    assert.deepEqual(db.prepare("SELECT COUNT(*) AS n FROM sqlite_master WHERE name = 'extra'").get(), { n: 0 });
    db.close();
  });

  it('refuses a database from a newer edgefleet', () => {
    const db = new Database(join(dir, 'newer.db'));
    db.pragma(`user_version = ${MIGRATIONS.length + 5}`);
    assert.throws(() => migrate(db), /newer than this edgefleet knows/);
    db.close();
  });
});

/** A round that carries only the nodes' outcomes (what recordOutcomes stores). */
const outcomes = (t: number, o: RoundWrite['outcomes']): RoundWrite => ({ timeUnixSeconds: t, startedUnixMs: t * 1000, kinds: [], readings: [], counters: [], runs: [], outcomes: o });
const groupsOf = async (s: Store, name: string) => s.sql.all('SELECT grp FROM node_groups JOIN nodes ON id = node_id WHERE name = ? ORDER BY grp', [name]);

eachStore('nodes table', (k) => {
  it('adds, updates, marks removed (keeping history) and brings back', async () => {
    const s = await k.open();
    let r = await s.syncNodes([spec('a'), spec('b')], 100);
    assert.deepEqual([r.added, r.updated, r.removed], [['a', 'b'], [], []]);

    r = await s.syncNodes([spec('a'), spec('b', { port: 2222, groups: ['jetsons'] })], 200);
    assert.deepEqual([r.added, r.updated, r.removed, r.unchanged], [[], ['b'], [], 1]);
    assert.equal((await s.listNodes()).find((n) => n.name === 'b')!.port, 2222);
    assert.deepEqual(await groupsOf(s, 'b'), [{ grp: 'jetsons' }]);

    await s.writeRound(outcomes(250, [{ name: 'a', status: 'up', seenUnixSeconds: 250 }]));
    r = await s.syncNodes([spec('b', { port: 2222, groups: ['jetsons'] })], 300);
    assert.deepEqual(r.removed, ['a']);
    assert.deepEqual((await s.listNodes()).map((n) => n.name), ['b']);
    const a = (await s.listNodes({ includeRemoved: true })).find((n) => n.name === 'a')!;
    assert.equal(a.status, 'removed');
    assert.equal(a.removedUnixSeconds, 300);
    assert.equal(a.lastSeenUnixSeconds, 250, 'history kept');

    r = await s.syncNodes([spec('a'), spec('b', { port: 2222, groups: ['jetsons'] })], 400);
    assert.deepEqual(r.updated, ['a']);
    const back = (await s.listNodes()).find((n) => n.name === 'a')!;
    assert.equal(back.removedUnixSeconds, null);
    assert.equal(back.status, 'unknown');
    await s.close();
  });

  it('records status, last seen and last error; an unreachable node keeps its last seen time', async () => {
    const s = await k.open();
    await s.syncNodes([spec('a')], 100);
    await s.writeRound(outcomes(110, [{ name: 'a', status: 'up', seenUnixSeconds: 110 }]));
    await s.writeRound(outcomes(120, [{ name: 'a', status: 'unreachable', error: 'connect ECONNREFUSED' }]));
    const a = (await s.listNodes())[0]!;
    assert.equal(a.status, 'unreachable');
    assert.equal(a.lastSeenUnixSeconds, 110);
    assert.equal(a.lastError, 'connect ECONNREFUSED');
    assert.equal(a.lastErrorUnixSeconds, 120);
    await s.close();
  });

  it('never stores a secret var from the inventory', async () => {
    const s = await k.open();
    await s.syncNodes([spec('a', { vars: { ansible_become_password: 'hunter2', ansible_ssh_pass: 'x', ansible_host: 'h' } })], 100);
    const raw = (await s.sql.get<{ vars_json: string }>('SELECT vars_json FROM nodes'))!;
    assert.doesNotMatch(raw.vars_json, /hunter2/);
    assert.equal(JSON.parse(raw.vars_json).ansible_host, 'h');
    assert.equal(JSON.parse(raw.vars_json).ansible_ssh_pass, '<redacted>');
    await s.close();
  });
});
