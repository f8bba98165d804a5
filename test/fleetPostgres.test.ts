/**
 * The fleet end to end into PostgreSQL: OpenSSH sshd nodes on loopback reading captured
 * machines' /proc and /sys, collected by the collectAll handler with EDGEFLEET_DB a postgres://
 * URL of a real PostgreSQL 15 started by the test. Expected values come from each machine's
 * expected.json (worked out apart from the parsers, test/fixtures/machines/SOURCE.md); no SQLite
 * file is made. And issue 18's readings the same way: boards of test/fixtures/accel (a Jetson
 * Orin, a Pi 4, an x86 box with RAPL) collected twice into PostgreSQL, each table's newest rows
 * equal to the board's expected.json (tools/expected.py), as test/accelerator.test.ts on SQLite.
 */
import assert from 'node:assert/strict';
import { chmodSync, cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { lambdaContext } from '../cli/lambdaContext.js';
import type { CollectionSummary } from '../shared/collect/collection.js';
import { loadConfig } from '../shared/config/config.js';
import { closeResources } from '../shared/handler/resources.js';
import { openPg, type PgDb } from '../shared/store/pg.js';
import { postgresAvailable, startPostgres, type TestPostgres } from './harness/postgres.js';
import { startFleet, type Fleet } from './harness/sshFleet.js';

const MACHINES = join(import.meta.dirname, 'fixtures', 'machines');
const GOOD = ['x86-hub', 'rpi4', 'jetson-orin'] as const;
type Expected = Record<string, any>;
const expected = (m: string): Expected => JSON.parse(readFileSync(join(MACHINES, m, 'expected.json'), 'utf8'));
const ID = '(SELECT id FROM nodes WHERE name = $1)';

let pg: TestPostgres;
let fleet: Fleet;
let dir: string;
let db: PgDb;
const roots = new Map<string, string>();

async function collectAll(): Promise<CollectionSummary> {
  const { handler } = await import('../functions/collectAll.js');
  return (await handler({}, lambdaContext('collectAll') as never)) as CollectionSummary;
}
const nextSecond = () => new Promise((r) => setTimeout(r, 1000 - (Date.now() % 1000) + 20));

describe('collectAll over sshd nodes into PostgreSQL', { skip: postgresAvailable() ? false : 'no PostgreSQL 15 here' }, () => {
  let round2: CollectionSummary;
  before(async () => {
    pg = await startPostgres();
    dir = mkdtempSync(join(tmpdir(), 'edgefleet-fleet-pg-'));
    chmodSync(dir, 0o755);
    for (const m of GOOD) {
      const root = join(dir, 'roots', m);
      mkdirSync(root, { recursive: true });
      cpSync(join(MACHINES, m, 'proc'), join(root, 'proc'), { recursive: true });
      if (existsSync(join(MACHINES, m, 'sys'))) cpSync(join(MACHINES, m, 'sys'), join(root, 'sys'), { recursive: true, verbatimSymlinks: true });
      else mkdirSync(join(root, 'sys'));
      writeFileSync(join(root, 'proc', 'uptime'), '1000.00 3500.00\n');
      roots.set(m, root);
    }
    const names = [...GOOD, 'dead'];
    fleet = await startFleet({ count: names.length });
    const lines = ['[edge]'];
    fleet.nodes.forEach((n, i) => {
      const root = roots.get(names[i]!);
      lines.push(`${names[i]} ansible_host=${n.host} ansible_port=${n.port} ansible_user=${n.user} ansible_ssh_private_key_file=${n.privateKeyFile}${root ? ` edgefleet_proc_root=${root}/proc edgefleet_sys_root=${root}/sys` : ''}`);
    });
    writeFileSync(join(dir, 'hosts.ini'), lines.join('\n') + '\n');
    await fleet.stop(fleet.nodes[names.indexOf('dead')]!.name);
    Object.assign(process.env, {
      EDGEFLEET_INVENTORY: join(dir, 'hosts.ini'),
      EDGEFLEET_DB: pg.url,
      EDGEFLEET_SSH_KNOWN_HOSTS_FILE: fleet.knownHostsFile,
      EDGEFLEET_COLLECT_COMMAND_TIMEOUT_SECONDS: '3',
      EDGEFLEET_COLLECT_CONNECT_TIMEOUT_SECONDS: '3',
      EDGEFLEET_LOG_LEVEL: 'silent',
    });
    await collectAll();
    await nextSecond();
    for (const m of GOOD) {
      cpSync(join(MACHINES, m, 'proc1'), join(roots.get(m)!, 'proc'), { recursive: true });
      writeFileSync(join(roots.get(m)!, 'proc', 'uptime'), `${(1000 + (expected(m).netRates?.intervalSeconds ?? 10)).toFixed(2)} 3600.00\n`);
    }
    round2 = await collectAll();
    db = await openPg(pg.url);
  });
  after(async () => {
    await db?.close();
    await closeResources();
    await fleet?.close();
    await pg?.close();
    delete process.env.EDGEFLEET_DB;
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('collects the good nodes; the dead one fails alone and is marked unreachable in PostgreSQL', async () => {
    for (const m of GOOD) assert.equal(round2.perNode.find((r) => r.node === m)?.status, 'up', m);
    assert.equal(round2.perNode.find((r) => r.node === 'dead')?.status, 'unreachable');
    assert.equal(round2.stored, true);
    const rows = await db.query<{ name: string; status: string; seen: number | null }>('SELECT name, status, last_seen_unix_seconds AS seen FROM nodes ORDER BY name');
    const by = Object.fromEntries(rows.map((r) => [r.name, r]));
    assert.equal(by.rpi4!.status, 'up');
    assert.equal(by.dead!.status, 'unreachable');
    assert.equal(by.dead!.seen, null);
    assert.equal(existsSync(join(dir, 'data')), false);
    assert.deepEqual(readdirSync(dir).filter((f) => f.endsWith('.db')), []);
  });

  it('stores memory, temperatures, load and CPU usage over the interval exactly', async () => {
    for (const m of GOOD) {
      const w = expected(m);
      const [mem] = await db.query<Expected>(`SELECT * FROM memory WHERE node_id = ${ID} ORDER BY time DESC LIMIT 1`, [m]);
      assert.equal(mem!.mem_total_bytes, w.memory.memTotalBytes, m);
      assert.equal(mem!.mem_available_bytes, w.memory.memAvailableBytes ?? null, m);
      assert.ok(Math.abs(mem!.used_percent - w.memory.usedPercent) < 1e-9, m);
      const temps = await db.query<Expected>(
        `SELECT t.sensor, t.celsius FROM temperature t WHERE t.node_id = ${ID} AND t.time = (SELECT MAX(time) FROM temperature WHERE node_id = t.node_id) ORDER BY sensor`,
        [m],
      );
      assert.deepEqual(temps, (w.temperature.readings as Expected[]).map((r) => ({ sensor: r.sensor, celsius: r.celsius })).sort((a, b) => (a.sensor < b.sensor ? -1 : 1)), m);
      const [load] = await db.query<Expected>(`SELECT load1, load5, load15 FROM load WHERE node_id = ${ID} ORDER BY time DESC LIMIT 1`, [m]);
      assert.deepEqual(load, { load1: w.cpu.load1, load5: w.cpu.load5, load15: w.cpu.load15 }, m);
      const cpus = await db.query<Expected>(`SELECT cpu, usage_percent FROM cpu WHERE node_id = ${ID}`, [m]);
      const want = w.cpuUsage.usage as Expected[];
      assert.equal(cpus.length, want.length, `${m}: one row per cpu, from round 2 only (counters carried in the store)`);
      for (const u of want) assert.ok(Math.abs(cpus.find((c) => c.cpu === u.cpu)!.usage_percent - u.usagePercent) < 1e-6, `${m} ${u.cpu}`);
    }
  });

  it('writes each round once, with a run per node and kind', async () => {
    const [r] = await db.query<{ rounds: number; runs: number }>('SELECT (SELECT COUNT(*) FROM rounds) AS rounds, (SELECT COUNT(*) FROM collector_runs) AS runs');
    assert.equal(r!.rounds, 2);
    const kinds = loadConfig({ env: {} }).collect.kinds.length;
    assert.equal(r!.runs, 2 * 4 * kinds, `two rounds × four nodes × ${kinds} kinds`);
  });
});

const ACCEL = join(import.meta.dirname, 'fixtures', 'accel');
const BOARDS = ['jetson-orin', 'rpi4', 'x86-rapl'] as const;

/** Numbers to 1e-9 relative, the rest exactly. */
function same(got: Expected | undefined, want: Expected, what: string): void {
  assert.ok(got, `${what}: no row`);
  for (const [k, w] of Object.entries(want)) {
    const g: unknown = got![k];
    if (typeof w === 'number' && typeof g === 'number') assert.ok(Math.abs(g - w) <= 1e-9 * Math.max(1, Math.abs(w)), `${what} ${k}: ${g} ≠ ${w}`);
    else assert.equal(g, w, `${what} ${k}`);
  }
}

describe("issue 18's readings (Jetson GPU, power rails, clocks, the Pi's throttle word) over sshd nodes into PostgreSQL", { skip: postgresAvailable() ? false : 'no PostgreSQL 15 here' }, () => {
  let cluster: TestPostgres;
  let boards: Fleet;
  let adir: string;
  let pdb: PgDb;
  const rootOf = (b: string) => join(adir, 'roots', b);
  const latest = (table: string, b: string, order: string) =>
    pdb.query<Expected>(`SELECT * FROM ${table} t WHERE node_id = ${ID} AND time = (SELECT MAX(time) FROM ${table} WHERE node_id = t.node_id) ORDER BY ${order}`, [b]);
  const saved = { ...process.env };

  before(async () => {
    cluster = await startPostgres();
    adir = mkdtempSync(join(tmpdir(), 'edgefleet-accel-pg-'));
    chmodSync(adir, 0o755);
    for (const b of BOARDS) {
      cpSync(join(ACCEL, b), rootOf(b), { recursive: true });
      mkdirSync(join(rootOf(b), 'proc'), { recursive: true });
      if (!existsSync(join(rootOf(b), 'sys'))) mkdirSync(join(rootOf(b), 'sys'));
      writeFileSync(join(rootOf(b), 'proc', 'uptime'), '1000.00 3500.00\n');
    }
    boards = await startFleet({ count: BOARDS.length });
    const lines = ['[edge]'];
    boards.nodes.forEach((n, i) => {
      const root = rootOf(BOARDS[i]!);
      lines.push(`${BOARDS[i]} ansible_host=${n.host} ansible_port=${n.port} ansible_user=${n.user} ansible_ssh_private_key_file=${n.privateKeyFile} edgefleet_proc_root=${root}/proc edgefleet_sys_root=${root}/sys edgefleet_rootfs=${root}`);
    });
    writeFileSync(join(adir, 'hosts.ini'), lines.join('\n') + '\n');
    Object.assign(process.env, {
      EDGEFLEET_INVENTORY: join(adir, 'hosts.ini'),
      EDGEFLEET_DB: cluster.url,
      EDGEFLEET_SSH_KNOWN_HOSTS_FILE: boards.knownHostsFile,
      EDGEFLEET_COLLECT_KINDS: 'tegraGpu,power,clocks',
      EDGEFLEET_LOG_LEVEL: 'silent',
    });
    const round1 = await collectAll();
    for (const r of round1.perNode) assert.equal(r.status, 'up', `${r.node} round 1: ${r.error}`);
    await nextSecond();
    // 10 s later on the node's clock: the second sample of the counters (x86-rapl's sys1/).
    for (const b of BOARDS) {
      if (existsSync(join(ACCEL, b, 'sys1'))) cpSync(join(ACCEL, b, 'sys1'), join(rootOf(b), 'sys'), { recursive: true });
      writeFileSync(join(rootOf(b), 'proc', 'uptime'), '1010.00 3600.00\n');
    }
    const round2 = await collectAll();
    for (const r of round2.perNode) assert.equal(r.status, 'up', `${r.node} round 2: ${r.error}`);
    pdb = await openPg(cluster.url);
  });
  after(async () => {
    await pdb?.close();
    await closeResources();
    await boards?.close();
    await cluster?.close();
    for (const k of ['EDGEFLEET_INVENTORY', 'EDGEFLEET_DB', 'EDGEFLEET_SSH_KNOWN_HOSTS_FILE', 'EDGEFLEET_COLLECT_KINDS', 'EDGEFLEET_LOG_LEVEL']) {
      if (saved[k] === undefined) delete process.env[k];
      else process.env[k] = saved[k];
    }
    if (adir) rmSync(adir, { recursive: true, force: true });
  });

  it('stores each board\'s GPU, rails and total power, CPU frequencies and throttles, and the Pi\'s word, in daily partitions', async () => {
    const [failed] = await pdb.query<{ n: number }>('SELECT COUNT(*) AS n FROM collector_runs WHERE success = 0');
    assert.equal(failed!.n, 0);
    for (const b of BOARDS) {
      const e = expected(join('..', 'accel', b));
      const gpu = await latest('tegra_gpu', b, 'device');
      assert.equal(gpu.length, e.tegra_gpu.length, b);
      (e.tegra_gpu as Expected[]).forEach((w, i) => same(gpu[i], w, `${b} gpu`));
      const rails = new Map((await latest('power_rails', b, 'sensor')).map((r) => [r.rail, r]));
      assert.equal(rails.size, e.power_rails.length, b);
      for (const w of e.power_rails as Expected[]) same(rails.get(w.rail), w, `${b} rail ${w.rail}`);
      const total = await latest('power', b, 'time');
      if (e.power === null) assert.equal(total.length, 0, `${b}: no rails, no total`);
      else same(total[0], e.power, `${b} total`);
      const freq = await latest('cpu_frequency', b, 'CAST(cpu AS INTEGER)');
      assert.equal(freq.length, e.cpu_frequency.length, b);
      (e.cpu_frequency as Expected[]).forEach((w, i) => same(freq[i], w, `${b} cpu_frequency`));
      const thr = await latest('cpu_throttle', b, 'CAST(cpu AS INTEGER)');
      assert.equal(thr.length, e.cpu_throttle.length, b);
      (e.cpu_throttle as Expected[]).forEach((w, i) => same(thr[i], w, `${b} cpu_throttle`));
      const word = await latest('rpi_throttled', b, 'time');
      if (e.rpi_throttled === null) assert.equal(word.length, 0, `${b}: not a Pi`);
      else same(word[0], e.rpi_throttled, `${b} get_throttled`);
    }
    // RAPL's first round has no rate: one total, from round 2.
    const [rapl] = await pdb.query<{ n: number }>(`SELECT COUNT(*) AS n FROM power WHERE node_id = ${ID}`, ['x86-rapl']);
    assert.equal(rapl!.n, 1);
    const [{ t } = { t: 0 }] = await pdb.query<{ t: number }>('SELECT MAX(time) AS t FROM power');
    const day = new Date(t * 1000).toISOString().slice(0, 10).replace(/-/g, '');
    const [part] = await pdb.query<{ n: number }>(`SELECT COUNT(*) AS n FROM power_p${day} WHERE time = $1`, [t]);
    assert.ok(part!.n > 0, 'the newest rows are in their day\'s partition');
  });
});
