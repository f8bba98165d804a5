import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import Database from 'better-sqlite3';
import type { NodeSpec } from '../shared/domain/index.js';
import { MIGRATIONS } from '../shared/store/migrations.js';
import { listNodes, migrate, openDb, recordOutcomes, schemaVersion, syncNodes } from '../shared/store/index.js';

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

describe('nodes table', () => {
  it('adds, updates, marks removed (keeping history) and brings back', () => {
    const db = openDb(':memory:');
    let s = syncNodes(db, [spec('a'), spec('b')], 100);
    assert.deepEqual([s.added, s.updated, s.removed], [['a', 'b'], [], []]);

    s = syncNodes(db, [spec('a'), spec('b', { port: 2222, groups: ['jetsons'] })], 200);
    assert.deepEqual([s.added, s.updated, s.removed, s.unchanged], [[], ['b'], [], 1]);
    assert.equal(listNodes(db).find((n) => n.name === 'b')!.port, 2222);
    assert.deepEqual(db.prepare("SELECT grp FROM node_groups JOIN nodes ON id = node_id WHERE name = 'b'").all(), [{ grp: 'jetsons' }]);

    recordOutcomes(db, [{ name: 'a', status: 'up', seenUnixSeconds: 250 }], 250);
    s = syncNodes(db, [spec('b', { port: 2222, groups: ['jetsons'] })], 300);
    assert.deepEqual(s.removed, ['a']);
    assert.deepEqual(listNodes(db).map((n) => n.name), ['b']);
    const a = listNodes(db, { includeRemoved: true }).find((n) => n.name === 'a')!;
    assert.equal(a.status, 'removed');
    assert.equal(a.removedUnixSeconds, 300);
    assert.equal(a.lastSeenUnixSeconds, 250, 'history kept');

    s = syncNodes(db, [spec('a'), spec('b', { port: 2222, groups: ['jetsons'] })], 400);
    assert.deepEqual(s.updated, ['a']);
    const back = listNodes(db).find((n) => n.name === 'a')!;
    assert.equal(back.removedUnixSeconds, null);
    assert.equal(back.status, 'unknown');
  });

  it('records status, last seen and last error; an unreachable node keeps its last seen time', () => {
    const db = openDb(':memory:');
    syncNodes(db, [spec('a')], 100);
    recordOutcomes(db, [{ name: 'a', status: 'up', seenUnixSeconds: 110 }], 110);
    recordOutcomes(db, [{ name: 'a', status: 'unreachable', error: 'connect ECONNREFUSED' }], 120);
    const a = listNodes(db)[0]!;
    assert.equal(a.status, 'unreachable');
    assert.equal(a.lastSeenUnixSeconds, 110);
    assert.equal(a.lastError, 'connect ECONNREFUSED');
    assert.equal(a.lastErrorUnixSeconds, 120);
  });

  it('never stores a secret var from the inventory', () => {
    const db = openDb(':memory:');
    syncNodes(db, [spec('a', { vars: { ansible_become_password: 'hunter2', ansible_ssh_pass: 'x', ansible_host: 'h' } })], 100);
    const raw = db.prepare('SELECT vars_json FROM nodes').get() as { vars_json: string };
    assert.doesNotMatch(raw.vars_json, /hunter2/);
    assert.equal(JSON.parse(raw.vars_json).ansible_host, 'h');
  });
});
