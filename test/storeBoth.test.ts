/**
 * One suite, two stores: the store's collection path (nodes, rounds, counters, latest readings,
 * rollups, retention, leases) run against SQLite and a real PostgreSQL 15 started by the test
 * (test/harness/postgres.ts). Expected values are worked out from the data written, as in
 * test/history.test.ts and test/store.test.ts.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import type { NodeSpec } from '../shared/domain/index.js';
import { MIGRATIONS } from '../shared/store/migrations.js';
import { openDb, type NodeReadings, type RoundWrite, type Store } from '../shared/store/index.js';
import { migratePg, openPg, pgSchemaVersion } from '../shared/store/pg.js';
import { openPgStore } from '../shared/store/pgStore.js';
import { PARTITIONED_TABLES } from '../shared/store/pgDialect.js';
import { sqliteStore } from '../shared/store/sqliteStore.js';
import { runCli } from './harness/cli.js';
import { postgresAvailable, postgresPerFile } from './harness/postgres.js';

const T0 = 1_790_000_000 - (1_790_000_000 % 86400); // a UTC midnight
const spec = (name: string, extra: Partial<NodeSpec> = {}): NodeSpec => ({ name, groups: ['pis'], vars: { ansible_host: name }, connection: 'ssh', host: name, port: 22, ...extra });

const pg = postgresPerFile();
let dbs = 0;

/** Each case gets a fresh store of each kind. */
const kinds: { name: string; open: () => Promise<Store> }[] = [
  { name: 'sqlite', open: async () => sqliteStore(openDb(':memory:')) },
  { name: 'postgres', open: async () => openPgStore(pg().createDatabase(`case_${++dbs}`)) },
];

/** 10-second rounds over `seconds`: memory used % a known function of time, one temperature per node. */
function round(nodes: string[], t: number, from: number): RoundWrite {
  const readings: NodeReadings[] = nodes.map((node, i) => ({
    node,
    timeUnixSeconds: t,
    memory: { memTotalBytes: 1000, memFreeBytes: 500, usedPercent: i * 10 + ((t - from) % 60) / 10 },
    temperature: [{ source: 'thermal_zone', sensor: 'thermal_zone0', type: 'cpu-thermal', celsius: 40 + i }],
  }));
  return {
    timeUnixSeconds: t, startedUnixMs: t * 1000, kinds: ['memory', 'temperature'], readings, counters: [],
    runs: nodes.map((node) => ({ node, kind: 'memory' as const, success: true, durationMs: 1, rows: 1 })),
    outcomes: nodes.map((name) => ({ name, status: 'up' as const, seenUnixSeconds: t })),
  };
}
async function fill(s: Store, nodes: string[], from: number, seconds: number) {
  for (let t = from; t < from + seconds; t += 10) await s.writeRound(round(nodes, t, from));
}

/** Rows of a query on either store. */
async function q(s: Store, sql: string, params: unknown[] = []): Promise<Record<string, unknown>[]> {
  if (s.sqlite) return s.sqlite.prepare(sql.replace(/\$\d+/g, '?')).all(...params) as Record<string, unknown>[];
  return (s as unknown as { pg: { query(sql: string, p: unknown[]): Promise<Record<string, unknown>[]> } }).pg.query(sql, params);
}

for (const k of kinds) {
  describe(`store: ${k.name}`, { skip: k.name === 'postgres' && !postgresAvailable() ? 'no PostgreSQL 15 here' : false }, () => {
    it('is at the latest schema', async () => {
      const s = await k.open();
      assert.equal(await s.schemaVersion(), MIGRATIONS.length);
      await s.close();
    });

    it('syncs nodes: adds, updates, marks removed keeping history, brings back; never stores a secret var', async () => {
      const s = await k.open();
      let r = await s.syncNodes([spec('a'), spec('b', { vars: { ansible_become_password: 'hunter2' } })], 100);
      assert.deepEqual([r.added, r.updated, r.removed], [['a', 'b'], [], []]);
      r = await s.syncNodes([spec('a'), spec('b', { port: 2222, vars: { ansible_become_password: 'hunter2' } })], 200);
      assert.deepEqual([r.added, r.updated, r.removed, r.unchanged], [[], ['b'], [], 1]);
      r = await s.syncNodes([spec('b', { port: 2222, vars: { ansible_become_password: 'hunter2' } })], 300);
      assert.deepEqual(r.removed, ['a']);
      assert.deepEqual((await s.listNodes()).map((n) => n.name), ['b']);
      const a = (await s.listNodes({ includeRemoved: true })).find((n) => n.name === 'a')!;
      assert.equal(a.status, 'removed');
      assert.equal(a.removedUnixSeconds, 300);
      r = await s.syncNodes([spec('a'), spec('b', { port: 2222, vars: { ansible_become_password: 'hunter2' } })], 400);
      assert.deepEqual(r.updated, ['a']);
      const b = (await s.listNodes()).find((n) => n.name === 'b')!;
      assert.equal(b.port, 2222);
      assert.doesNotMatch(JSON.stringify(b.vars), /hunter2/);
      assert.deepEqual(await q(s, "SELECT grp FROM node_groups JOIN nodes ON id = node_id WHERE name = 'b'"), [{ grp: 'pis' }]);
      await s.close();
    });

    it('writes a round whole: readings, counters, the round, its runs and the nodes\' outcomes; a later round in the same second replaces the readings', async () => {
      const s = await k.open();
      await s.syncNodes([spec('a'), spec('b')], T0);
      const r = round(['a', 'b'], T0, T0);
      r.counters = [{ node: 'a', kind: 'cpu', timeMs: T0 * 1000, sample: { cpus: [{ cpu: 'all', user: 1 }] } }];
      r.outcomes = [{ name: 'a', status: 'up', seenUnixSeconds: T0 }, { name: 'b', status: 'unreachable', error: 'connect ECONNREFUSED' }];
      const id1 = await s.writeRound(r);
      const again = round(['a'], T0, T0);
      again.readings[0]!.memory!.usedPercent = 99;
      const id2 = await s.writeRound(again);
      assert.ok(id2 > id1);
      assert.deepEqual(await q(s, 'SELECT n.name, m.time, m.used_percent FROM memory m JOIN nodes n ON n.id = m.node_id ORDER BY n.name'), [
        { name: 'a', time: T0, used_percent: 99 },
        { name: 'b', time: T0, used_percent: 10 },
      ]);
      assert.deepEqual(await q(s, 'SELECT COUNT(*) AS n FROM collector_runs').then((x) => Number(x[0]!.n)), 3, 'runs are kept per round');
      const nodes = await s.listNodes();
      assert.deepEqual(nodes.map((n) => [n.name, n.status, n.lastSeenUnixSeconds, n.lastError]), [['a', 'up', T0, null], ['b', 'unreachable', null, 'connect ECONNREFUSED']]);
      const counters = await s.loadCounterStates(['cpu']);
      assert.deepEqual(counters.get('a\0cpu'), { timeMs: T0 * 1000, sample: { cpus: [{ cpu: 'all', user: 1 }] } });
      const latest = await s.latestReadings();
      assert.equal(latest.get('a')!.memoryUsedPercent, 99);
      assert.equal(latest.get('b')!.maxCelsius, 41);
      await s.close();
    });

    it('stores every value of a round as written: counters past 2^32, non-ASCII names, absent fields as NULL, the edge-AI tables', async () => {
      const s = await k.open();
      await s.syncNodes([spec('jetson-01')], T0);
      const reading: NodeReadings = {
        node: 'jetson-01',
        timeUnixSeconds: T0,
        temperature: [{ source: 'hwmon', sensor: 'hwmon0/température Ω', type: 'coretemp', celsius: -12.25 }],
        storage: [{ mountPoint: '/mnt/données', device: '/dev/sda1', fsType: 'ext4', totalBytes: 2 ** 40, usedBytes: 2 ** 33 + 7, availableBytes: 0, usedPercent: 0.5 }],
        network: {
          counters: [{ iface: 'eth0', rxBytes: 9_007_199_254_740_991, rxPackets: 2 ** 32, rxErrors: 0, rxDrops: 1, txBytes: 4_294_967_295, txPackets: 3, txErrors: 0, txDrops: 0 }],
          rates: new Map(),
          links: new Map([['eth0', { iface: 'eth0', operState: 'up', carrier: 1 }]]),
        },
        tegraGpu: [{ device: '17000000.ga10b', loadPercent: 99.9, curFreqHertz: 1.3e9, governor: 'nvhost_podgov', powerMode: 'MAXN', powerModeId: 0 }],
        power: { rails: [{ rail: 'VDD_IN', source: 'ina3221', sensor: 'hwmon1/in1', volts: 5.08, amperes: 1.5, watts: 7.62 }], totalWatts: 7.62, totalOf: 'VDD_IN' },
        clocks: {
          frequencies: [{ cpu: '0', curHertz: 1.2e9, minHertz: 1.15e8, maxHertz: 2.2e9 }],
          throttles: [{ cpu: '0', package: '0', core: '0', coreThrottles: 12, packageThrottles: 40 }],
          rpiThrottled: { flags: 0x50005, source: 'sysfs' },
        },
      } as NodeReadings;
      await s.writeRound({ timeUnixSeconds: T0, startedUnixMs: T0 * 1000, kinds: ['temperature'], readings: [reading], counters: [], runs: [], outcomes: [] });
      const one = async (sql: string) => (await q(s, sql)).map((r) => Object.fromEntries(Object.entries(r).map(([c, v]) => [c, typeof v === 'bigint' ? Number(v) : v])));
      assert.deepEqual(await one('SELECT sensor, celsius FROM temperature'), [{ sensor: 'hwmon0/température Ω', celsius: -12.25 }]);
      assert.deepEqual(await one('SELECT sensor, type, source FROM temperature_sensors'), [{ sensor: 'hwmon0/température Ω', type: 'coretemp', source: 'hwmon' }]);
      assert.deepEqual(await one('SELECT mount_point, total_bytes, used_bytes, available_bytes FROM storage'), [{ mount_point: '/mnt/données', total_bytes: 2 ** 40, used_bytes: 2 ** 33 + 7, available_bytes: 0 }]);
      assert.deepEqual(await one('SELECT rx_bytes, rx_packets, tx_bytes, rx_bytes_per_second, oper_state, carrier, speed_bytes_per_second FROM network'), [
        { rx_bytes: 9_007_199_254_740_991, rx_packets: 2 ** 32, tx_bytes: 4_294_967_295, rx_bytes_per_second: null, oper_state: 'up', carrier: 1, speed_bytes_per_second: null },
      ]);
      assert.deepEqual(await one('SELECT device, load_percent, cur_freq_hertz, min_freq_hertz, governor, power_mode, power_mode_id FROM tegra_gpu'), [
        { device: '17000000.ga10b', load_percent: 99.9, cur_freq_hertz: 1.3e9, min_freq_hertz: null, governor: 'nvhost_podgov', power_mode: 'MAXN', power_mode_id: 0 },
      ]);
      assert.deepEqual(await one('SELECT rail, source, volts, watts, joules_total FROM power_rails'), [{ rail: 'VDD_IN', source: 'ina3221', volts: 5.08, watts: 7.62, joules_total: null }]);
      assert.deepEqual(await one('SELECT watts, total_of FROM power'), [{ watts: 7.62, total_of: 'VDD_IN' }]);
      assert.deepEqual(await one('SELECT cpu, cur_hertz, max_hertz FROM cpu_frequency'), [{ cpu: '0', cur_hertz: 1.2e9, max_hertz: 2.2e9 }]);
      assert.deepEqual(await one('SELECT cpu, core_throttles, package_throttles, core_throttles_new FROM cpu_throttle'), [{ cpu: '0', core_throttles: 12, package_throttles: 40, core_throttles_new: null }]);
      assert.deepEqual(await one('SELECT flags, source FROM rpi_throttled'), [{ flags: 0x50005, source: 'sysfs' }]);
      const latest = (await s.latestReadings()).get('jetson-01')!;
      assert.deepEqual([latest.gpuLoadPercent, latest.powerWatts, latest.maxCelsius], [99.9, 7.62, -12.25]);
      // Its minute's rollups: one row per series with a value (min = avg = max, count 1), none for a NULL one
      // (the rates, emc_freq_hertz, core_throttles_new); labels and values as written above.
      await s.updateRollups(T0 + 180);
      const minute = Math.floor(T0 / 60) * 60;
      const rolled = await one(`SELECT series, label, min, avg, max, count FROM rollup_1m WHERE time = ${minute} ORDER BY series, label`);
      const row = (series: string, label: string, v: number) => ({ series, label, min: v, avg: v, max: v, count: 1 });
      assert.deepEqual(rolled, [
        row('clocks.cpu_freq_hertz', '0', 1.2e9),
        row('clocks.rpi_throttled_now', '', 0x50005 & 15),
        row('gpu.freq_hertz', '17000000.ga10b', 1.3e9),
        row('gpu.load_percent', '17000000.ga10b', 99.9),
        row('power.rail_watts', 'VDD_IN', 7.62),
        row('power.watts', '', 7.62),
        row('storage.total_bytes', '/mnt/données', 2 ** 40),
        row('storage.used_bytes', '/mnt/données', 2 ** 33 + 7),
        row('storage.used_percent', '/mnt/données', 0.5),
        row('temperature.celsius', 'hwmon0/température Ω', -12.25),
      ]);
      await s.close();
    });

    it('records what a sensor or mount is when it changes, and not again while it stays', async () => {
      const s = await k.open();
      await s.syncNodes([spec('a')], T0);
      const withSensor = (t: number, type: string): RoundWrite => ({
        ...round(['a'], t, T0),
        readings: [{ node: 'a', timeUnixSeconds: t, temperature: [{ source: 'thermal_zone', sensor: 'thermal_zone0', type, celsius: 40 }], storage: [{ mountPoint: '/', device: `/dev/${type}`, fsType: 'ext4', totalBytes: 10, usedBytes: 5, availableBytes: 5, usedPercent: 50 }] }],
      });
      await s.writeRound(withSensor(T0, 'cpu-thermal'));
      await s.writeRound(withSensor(T0 + 10, 'cpu-thermal'));
      await s.writeRound(withSensor(T0 + 20, 'soc-thermal'));
      assert.deepEqual(await q(s, 'SELECT sensor, type FROM temperature_sensors'), [{ sensor: 'thermal_zone0', type: 'soc-thermal' }]);
      assert.deepEqual(await q(s, 'SELECT mount_point, device FROM mounts'), [{ mount_point: '/', device: '/dev/soc-thermal' }]);
      assert.deepEqual((await q(s, 'SELECT time FROM temperature ORDER BY time')).map((r) => Number(r.time)), [T0, T0 + 10, T0 + 20]);
      await s.close();
    });

    it('refuses a round naming a node not in the nodes table, and stores none of it', async () => {
      const s = await k.open();
      await s.syncNodes([spec('a')], T0);
      await assert.rejects(s.writeRound(round(['a', 'ghost'], T0, T0)), /node ghost is not in the nodes table/);
      assert.deepEqual(await q(s, 'SELECT COUNT(*) AS n FROM memory').then((x) => Number(x[0]!.n)), 0);
      assert.deepEqual(await q(s, 'SELECT COUNT(*) AS n FROM rounds').then((x) => Number(x[0]!.n)), 0);
      await s.close();
    });

    it('rolls up 1-minute and 1-hour min/avg/max of final buckets only, and continues from its watermark', async () => {
      const s = await k.open();
      await s.syncNodes([spec('a'), spec('b')], T0);
      await fill(s, ['a', 'b'], T0, 7200 + 120);
      const [m, h, h6] = await s.updateRollups(T0 + 7200 + 120);
      assert.equal(m!.level, '1m');
      const minutes = await q(s, "SELECT time, min, avg, max, count FROM rollup_1m WHERE series = 'memory.used_percent' AND node_id = (SELECT id FROM nodes WHERE name = 'b') ORDER BY time");
      assert.equal(minutes.length, 121);
      // Each minute holds used % = 10 + 0, 1, … 5: min 10, max 15, avg 12.5, 6 samples.
      assert.deepEqual(minutes[0], { time: T0, min: 10, avg: 12.5, max: 15, count: 6 });
      assert.deepEqual(await q(s, "SELECT time, min, avg, max, count FROM rollup_1h WHERE series = 'memory.used_percent' AND node_id = (SELECT id FROM nodes WHERE name = 'a') ORDER BY time"), [
        { time: T0, min: 0, avg: 2.5, max: 5, count: 360 },
        { time: T0 + 3600, min: 0, avg: 2.5, max: 5, count: 360 },
      ]);
      assert.equal(h!.level, '1h');
      assert.equal(h6!.buckets, 0, 'no 6-hour bucket is final yet');
      await fill(s, ['a', 'b'], T0 + 7320, 600);
      const [m2] = await s.updateRollups(T0 + 7320 + 600 + 60);
      assert.equal(m2!.fromUnixSeconds, T0 + 7260, 'from the watermark');
      assert.equal(m2!.buckets, 11);
      await s.close();
    });

    it('retention removes raw samples older than the cutoff (PostgreSQL: whole days) and keeps everything newer', async () => {
      const s = await k.open();
      await s.syncNodes([spec('a')], T0);
      // Two days of one sample a minute per node: day 0 and day 1.
      for (let t = T0; t < T0 + 2 * 86400; t += 600) await s.writeRound(round(['a'], t, T0));
      const now = T0 + 86400 + 3 * 86400 - 12 * 3600; // cutoff (rawDays 3) at T0 + 12 h
      const cutoff = now - 3 * 86400;
      const deleted = await s.applyRetention({ rawDays: 3, rollup1mDays: 0, rollup1hDays: 0, rollup6hDays: 0 }, now);
      const left = await q(s, 'SELECT MIN(time) AS t, COUNT(*) AS n FROM memory');
      const newer = 2 * 86400 / 600 - (cutoff - T0) / 600;
      if (k.name === 'sqlite') {
        assert.equal(left[0]!.t, cutoff);
        assert.equal(Number(left[0]!.n), newer);
        assert.equal(deleted.memory, (cutoff - T0) / 600);
      } else {
        // The cutoff falls inside day 0: its partition stays whole until the cutoff passes its end.
        assert.equal(left[0]!.t, T0);
        assert.equal(deleted.memory, 0);
        const later = await s.applyRetention({ rawDays: 3, rollup1mDays: 0, rollup1hDays: 0, rollup6hDays: 0 }, now + 86400);
        assert.equal(later.memory, 86400 / 600, 'day 0 dropped whole');
        const rest = await q(s, 'SELECT MIN(time) AS t, COUNT(*) AS n FROM memory');
        assert.deepEqual([rest[0]!.t, Number(rest[0]!.n)], [T0 + 86400, 86400 / 600]);
      }
      await s.close();
    });

    it("retention removes issue 18's rows (power, GPU, clocks) older than the cutoff too", async () => {
      const s = await k.open();
      await s.syncNodes([spec('a')], T0);
      for (const t of [T0, T0 + 2 * 86400]) {
        const reading = { node: 'a', timeUnixSeconds: t, power: { rails: [], totalWatts: 5, totalOf: 'sum' }, clocks: { frequencies: [{ cpu: '0', curHertz: 1e9 }], throttles: [] } } as NodeReadings;
        await s.writeRound({ timeUnixSeconds: t, startedUnixMs: t * 1000, kinds: ['power'], readings: [reading], counters: [], runs: [], outcomes: [] });
      }
      const deleted = await s.applyRetention({ rawDays: 1, rollup1mDays: 0, rollup1hDays: 0, rollup6hDays: 0 }, T0 + 2 * 86400 + 3600);
      assert.deepEqual([deleted.power, deleted.cpu_frequency], [1, 1]);
      assert.deepEqual((await q(s, 'SELECT time FROM power')).map((r) => Number(r.time)), [T0 + 2 * 86400]);
      assert.deepEqual((await q(s, 'SELECT time FROM cpu_frequency')).map((r) => Number(r.time)), [T0 + 2 * 86400]);
      await s.close();
    });

    it('leases: one holder at a time; the holder renews; an expired lease is taken over', async () => {
      const s = await k.open();
      assert.equal(await s.tryLease('shard:1/2', 'hub-a', 10_000), true);
      assert.equal(await s.tryLease('shard:1/2', 'hub-b', 10_000), false);
      assert.equal(await s.tryLease('shard:1/2', 'hub-a', 10_000), true, 'renewed');
      assert.equal(await s.tryLease('shard:2/2', 'hub-b', 1), true);
      await new Promise((r) => setTimeout(r, 10));
      assert.equal(await s.tryLease('shard:2/2', 'hub-a', 10_000), true, 'expired: taken over');
      assert.deepEqual((await s.leases('shard:')).map((l) => [l.name, l.owner]), [['shard:1/2', 'hub-a'], ['shard:2/2', 'hub-a']]);
      await s.releaseLease('shard:1/2', 'hub-a');
      assert.equal(await s.tryLease('shard:1/2', 'hub-b', 10_000), true);
      await s.close();
    });
  });
}

describe('PostgreSQL schema', { skip: postgresAvailable() ? false : 'no PostgreSQL 15 here' }, () => {
  it('is created from the one migration list, with the time-series tables partitioned by day, created ahead', async () => {
    const db = await openPg(pg().createDatabase('schema_new'));
    assert.equal(await pgSchemaVersion(db), MIGRATIONS.length);
    const parents = await db.query<{ relname: string }>("SELECT relname FROM pg_class WHERE relkind = 'p' ORDER BY relname");
    assert.deepEqual(parents.map((r) => r.relname), [...PARTITIONED_TABLES].sort());
    for (const t of ['temperature', 'cpu', 'load', 'memory', 'storage', 'network', 'collector_runs', 'rollup_1m']) assert.ok(PARTITIONED_TABLES.includes(t as never), t);
    const today = new Date().toISOString().slice(0, 10).replace(/-/g, '');
    const tomorrow = new Date(Date.now() + 86400_000).toISOString().slice(0, 10).replace(/-/g, '');
    const parts = (await db.query<{ relname: string }>("SELECT relname FROM pg_class WHERE relname LIKE 'memory_p%'")).map((r) => r.relname);
    assert.ok(parts.includes(`memory_p${today}`) && parts.includes(`memory_p${tomorrow}`), parts.join(' '));
    await db.close();
  });

  it('upgrades a live database in place, rolls a failed migration back whole, refuses a newer schema', async () => {
    const url = pg().createDatabase('schema_upgrade');
    const s = await openPgStore(url);
    await s.syncNodes([spec('pi-01')], 100);
    await s.close();
    const db = await openPg(url);
    assert.deepEqual(await migratePg(db, [...MIGRATIONS, 'ALTER TABLE memory ADD COLUMN shmem_bytes INTEGER;']), [MIGRATIONS.length + 1]);
    assert.equal(await pgSchemaVersion(db), MIGRATIONS.length + 1);
    assert.deepEqual(await db.query('SELECT name FROM nodes'), [{ name: 'pi-01' }]);
    await assert.rejects(migratePg(db, [...MIGRATIONS, 'ALTER TABLE memory ADD COLUMN shmem_bytes INTEGER;', 'CREATE TABLE extra (x INTEGER); SELECT * FROM no_such_table;']), /migration \d+ failed.*no_such_table/);
    assert.equal(await pgSchemaVersion(db), MIGRATIONS.length + 1);
    assert.deepEqual(await db.query("SELECT to_regclass('extra') AS t"), [{ t: null }]);
    await db.query('UPDATE edgefleet_schema SET version = version + 5');
    await assert.rejects(migratePg(db), /newer than this edgefleet knows/);
    await db.close();
  });

  it('says what is wrong with a database it cannot use, without the password', async () => {
    await assert.rejects(openPg(`postgres://edgefleet:s3cret@127.0.0.1:${pg().port}/no_such_db`), (e: Error) => /does not exist/.test(e.message) && !e.message.includes('s3cret'));
    await assert.rejects(openPg('postgres://edgefleet:s3cret@127.0.0.1:1/edgefleet', { connectTimeoutMs: 2000 }), (e: Error) => /cannot reach PostgreSQL/.test(e.message) && !e.message.includes('s3cret'));
  });
});

describe('edgefleet init --store', { skip: postgresAvailable() ? false : 'no PostgreSQL 15 here' }, () => {
  it('creates the schema in PostgreSQL and syncs the nodes; a bad URL is exit 1 naming the key, never the password', async () => {
    const cwd = mkdtempSync(join(tmpdir(), 'edgefleet-init-pg-'));
    try {
      writeFileSync(join(cwd, 'hosts.ini'), '[pis]\npi-01 ansible_host=10.0.0.1\npi-02 ansible_host=10.0.0.2\n');
      const url = pg().createDatabase('cli_init');
      const r = await runCli(['init', '-i', 'hosts.ini', '--store', url], { cwd, timeoutMs: 60_000 });
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, new RegExp(`database postgres://.*/cli_init ready \\(schema ${MIGRATIONS.length}\\); nodes: 2 added`));
      assert.equal(pg().psql('SELECT string_agg(name, \',\' ORDER BY name) FROM nodes', 'cli_init'), 'pi-01,pi-02');
      assert.equal(existsSync(join(cwd, 'data')), false, 'no SQLite file made beside');
      const bad = await runCli(['init', '-i', 'hosts.ini', '--store', 'postgres://edgefleet:s3cret@127.0.0.1:99999/x'], { cwd });
      assert.equal(bad.code, 1);
      assert.match(bad.stderr, /--store \(db\): expected a file path or a postgres:\/\/user@host:port\/database URL \(this one does not parse\)/);
      assert.doesNotMatch(bad.stderr, /s3cret/);
      const noDb = await runCli(['init', '-i', 'hosts.ini'], { cwd, env: { EDGEFLEET_DB: 'postgres://edgefleet@127.0.0.1:5432' } });
      assert.equal(noDb.code, 1);
      assert.match(noDb.stderr, /EDGEFLEET_DB \(db\): expected a postgres:\/\/ URL naming its database/);
    } finally {
      rmSync(cwd, { recursive: true, force: true });
    }
  });
});
