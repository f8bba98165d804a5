/**
 * Issue 18 end to end: real sshd nodes on loopback, each reading a board's fixture root
 * (test/fixtures/accel: Jetson Nano, Xavier NX, Orin; Pi 4, Pi 5; an x86 box with RAPL), collected
 * twice by the collectAll handler into SQLite, 10 s of the node's clock apart. What lands in the
 * tables must be each root's expected.json, worked out by tools/expected.py apart from the parsers.
 */
import assert from 'node:assert/strict';
import { chmodSync, cpSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import Database from 'better-sqlite3';
import { lambdaContext } from '../cli/lambdaContext.js';
import type { CollectionSummary } from '../shared/collect/collection.js';
import { closeResources } from '../shared/handler/resources.js';
import { detectAnomalies } from '../shared/detect/anomalies.js';
import { latestReadings, openDb } from '../shared/store/index.js';
import { renderMetrics } from '../shared/prometheus/scrape.js';
import { spawnSync } from 'node:child_process';
import { runCli, tableCells } from './harness/cli.js';
import { startFleet, type Fleet } from './harness/sshFleet.js';

const ACCEL = join(import.meta.dirname, 'fixtures', 'accel');
const BOARDS = ['jetson-nano', 'jetson-xavier-nx', 'jetson-orin', 'rpi4', 'rpi5', 'x86-rapl'] as const;
const ID = '(SELECT id FROM nodes WHERE name = ?)';
type Row = Record<string, unknown>;
const expected = (b: string): Record<string, any> => JSON.parse(readFileSync(join(ACCEL, b, 'expected.json'), 'utf8'));

let fleet: Fleet;
let dir: string;
let db: Database.Database;
const rootOf = (b: string) => join(dir, 'roots', b);

async function collectAll(): Promise<CollectionSummary> {
  const { handler } = await import('../functions/collectAll.js');
  return (await handler({}, lambdaContext('collectAll') as never)) as CollectionSummary;
}
const nextSecond = () => new Promise((r) => setTimeout(r, 1000 - (Date.now() % 1000) + 20));
/** Compare a stored row with an expected one: numbers to 1e-9 relative, the rest exactly. */
function same(got: Row, want: Row, what: string): void {
  for (const [k, w] of Object.entries(want)) {
    const g = got[k];
    if (typeof w === 'number' && typeof g === 'number') assert.ok(Math.abs(g - w) <= 1e-9 * Math.max(1, Math.abs(w)), `${what} ${k}: ${g} ≠ ${w}`);
    else assert.equal(g, w, `${what} ${k}`);
  }
}
const latest = (table: string, board: string, order: string) =>
  db.prepare(`SELECT * FROM ${table} t WHERE node_id = ${ID} AND time = (SELECT MAX(time) FROM ${table} WHERE node_id = t.node_id) ORDER BY ${order}`).all(board) as Row[];

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'edgefleet-accel-'));
  chmodSync(dir, 0o755); // the nodes' login user reads the roots
  for (const b of BOARDS) {
    const root = rootOf(b);
    cpSync(join(ACCEL, b), root, { recursive: true });
    mkdirSync(join(root, 'proc'), { recursive: true });
    if (!existsSync(join(root, 'sys'))) mkdirSync(join(root, 'sys'));
    writeFileSync(join(root, 'proc', 'uptime'), '1000.00 3500.00\n');
  }
  fleet = await startFleet({ count: BOARDS.length });
  const lines = ['[edge]'];
  fleet.nodes.forEach((n, i) => {
    const b = BOARDS[i]!;
    const root = rootOf(b);
    const vc = b === 'rpi5' ? ` edgefleet_vcgencmd=${root}/bin/vcgencmd` : '';
    lines.push(`${b} ansible_host=${n.host} ansible_port=${n.port} ansible_user=${n.user} ansible_ssh_private_key_file=${n.privateKeyFile} edgefleet_proc_root=${root}/proc edgefleet_sys_root=${root}/sys edgefleet_rootfs=${root}${vc}`);
  });
  writeFileSync(join(dir, 'hosts.ini'), lines.join('\n') + '\n');
  Object.assign(process.env, {
    EDGEFLEET_INVENTORY: join(dir, 'hosts.ini'),
    EDGEFLEET_DB: join(dir, 'edgefleet.db'),
    EDGEFLEET_SSH_KNOWN_HOSTS_FILE: fleet.knownHostsFile,
    EDGEFLEET_COLLECT_KINDS: 'tegraGpu,power,clocks',
    EDGEFLEET_LOG_LEVEL: 'silent',
  });
  db = new Database(join(dir, 'edgefleet.db'), { fileMustExist: false });
});

after(async () => {
  db?.close();
  await closeResources();
  await fleet?.close();
  rmSync(dir, { recursive: true, force: true });
  for (const k of ['EDGEFLEET_INVENTORY', 'EDGEFLEET_DB', 'EDGEFLEET_SSH_KNOWN_HOSTS_FILE', 'EDGEFLEET_COLLECT_KINDS', 'EDGEFLEET_LOG_LEVEL']) delete process.env[k];
});

describe('GPU, power and clocks over a fleet of sshd nodes', () => {
  let round2: CollectionSummary;
  before(async () => {
    const round1 = await collectAll();
    for (const r of round1.perNode) assert.equal(r.status, 'up', `${r.node} round 1: ${r.error}`);
    await nextSecond();
    // 10 s later on the node's clock: the second sample of the counters (x86-rapl's sys1/).
    for (const b of BOARDS) {
      const root = rootOf(b);
      if (existsSync(join(ACCEL, b, 'sys1'))) cpSync(join(ACCEL, b, 'sys1'), join(root, 'sys'), { recursive: true });
      writeFileSync(join(root, 'proc', 'uptime'), '1010.00 3600.00\n');
    }
    round2 = await collectAll();
  });

  it('collects every board without an error, GPU or not', () => {
    for (const b of BOARDS) {
      const r = round2.perNode.find((x) => x.node === b);
      assert.equal(r?.status, 'up', `${b}: ${r?.error}`);
    }
    const failed = db.prepare('SELECT COUNT(*) AS n FROM collector_runs WHERE success = 0').get() as { n: number };
    assert.equal(failed.n, 0);
  });

  it('finds each Jetson GPU by its device, with load, clocks, EMC and nvpmodel mode; none elsewhere', () => {
    for (const b of BOARDS) {
      const want = expected(b).tegra_gpu as Row[];
      const got = latest('tegra_gpu', b, 'device');
      if (want.length === 0) {
        assert.deepEqual(db.prepare(`SELECT COUNT(*) AS n FROM tegra_gpu WHERE node_id = ${ID}`).get(b), { n: 0 }, `${b}: no GPU, no rows`);
        continue;
      }
      assert.equal(got.length, want.length, b);
      want.forEach((w, i) => same(got[i]!, w, `${b} gpu`));
    }
  });

  it('stores each rail in watts and the node total: the input rail, else the sum; RAPL from the counter delta', () => {
    for (const b of BOARDS) {
      const e = expected(b);
      const want = e.power_rails as Row[];
      const got = latest('power_rails', b, 'sensor');
      assert.equal(got.length, want.length, b);
      const byRail = new Map(got.map((g) => [g.rail, g]));
      for (const w of want) same(byRail.get(w.rail)! ?? {}, w, `${b} rail ${w.rail}`);
      const total = latest('power', b, 'time');
      if (e.power === null) assert.equal(total.length, 0, `${b}: no rails, no total`);
      else same(total[0]!, e.power, `${b} total`);
    }
    // RAPL's first round has no rate: no watts, no total.
    const first = db.prepare(`SELECT COUNT(*) AS n FROM power WHERE node_id = ${ID}`).get('x86-rapl') as { n: number };
    assert.equal(first.n, 1);
  });

  it('stores per-CPU frequency in Hz, throttle counters with the new ones, and the Pi throttle word', () => {
    for (const b of BOARDS) {
      const e = expected(b);
      const freq = latest('cpu_frequency', b, 'CAST(cpu AS INTEGER)');
      assert.equal(freq.length, e.cpu_frequency.length, b);
      (e.cpu_frequency as Row[]).forEach((w, i) => same(freq[i]!, w, `${b} cpu_frequency`));
      const thr = latest('cpu_throttle', b, 'CAST(cpu AS INTEGER)');
      assert.equal(thr.length, e.cpu_throttle.length, b);
      (e.cpu_throttle as Row[]).forEach((w, i) => same(thr[i]!, w, `${b} cpu_throttle`));
      const word = latest('rpi_throttled', b, 'time');
      if (e.rpi_throttled === null) assert.equal(word.length, 0, `${b}: not a Pi`);
      else same(word[0]!, e.rpi_throttled, `${b} get_throttled`);
    }
  });

  it('opens a rule episode for each Pi throttle flag set now, and for a core throttled since the round before', async () => {
    const store = openDb(join(dir, 'edgefleet.db'));
    try {
      await detectAnomalies({ db: store, nowUnixSeconds: Math.floor(Date.now() / 1000) + 1 });
    } finally {
      store.close();
    }
    const open = (b: string) =>
      (db.prepare(`SELECT kind, label FROM anomalies WHERE node_id = ${ID} AND detector = 'rule' AND end_unix_seconds IS NULL ORDER BY kind, label`).all(b) as Row[]).map((r) => `${r.kind}${r.label ? ` ${r.label}` : ''}`);
    for (const b of ['rpi4', 'rpi5']) assert.deepEqual(open(b), expected(b).rpi_flags_now.sort(), b);
    // node_exporter's cpu0 went from 5 to 7 core throttles (sys1/): the only core throttled.
    assert.deepEqual(open('x86-rapl'), ['cpu_throttled 0']);
    for (const b of ['jetson-nano', 'jetson-orin']) assert.deepEqual(open(b), [], b);
  });

  it('GET /metrics has node_exporter\'s names for RAPL, cpufreq, throttles and hwmon rails, and lints clean', async () => {
    const store = openDb(join(dir, 'edgefleet.db'));
    let text: string;
    try {
      text = (await renderMetrics(store, { openMetrics: false })).body.toString();
    } finally {
      store.close();
    }
    const sample = (name: string, instance: string, labels: string) =>
      text.split('\n').find((l) => l.startsWith(`${name}{`) && l.includes(`instance="${instance}"`) && l.includes(labels))?.split(' ')[1];
    // node_exporter's e2e-output.txt names, with sys1/'s counters (expected.json).
    assert.equal(Number(sample('node_rapl_package_joules_total', 'x86-rapl', 'index="0"')), 240577.366267);
    assert.equal(Number(sample('node_rapl_core_joules_total', 'x86-rapl', 'index="0"')), 118883.784256);
    assert.equal(Number(sample('node_cpu_scaling_frequency_hertz', 'x86-rapl', 'cpu="0"')), 1699981000);
    assert.equal(Number(sample('node_cpu_core_throttles_total', 'x86-rapl', 'core="0",package="0"')), 7);
    assert.equal(Number(sample('node_cpu_core_throttles_total', 'x86-rapl', 'core="1",package="1"')), 9);
    assert.equal(Number(sample('node_cpu_package_throttles_total', 'x86-rapl', 'package="0"')), 31);
    assert.equal(Number(sample('node_hwmon_in_volts', 'jetson-orin', 'chip="hwmon1",sensor="in1"')), 5.056);
    assert.equal(Number(sample('node_hwmon_curr_amps', 'jetson-orin', 'chip="hwmon1",sensor="curr1"')), 1.432);
    assert.equal(Number(sample('edgefleet_tegra_gpu_load_percent', 'jetson-orin', 'device="17000000.ga10b"')), 51.2);
    assert.equal(Number(sample('edgefleet_power_watts', 'x86-rapl', '')), 15.5);
    assert.equal(Number(sample('edgefleet_rpi_throttled', 'rpi4', 'flag="under_voltage"')), 1);
    assert.equal(Number(sample('edgefleet_rpi_throttled', 'rpi4', 'flag="arm_freq_capped"')), 0);
    assert.equal(Number(sample('edgefleet_rpi_throttled_since_boot', 'rpi5', 'flag="soft_temp_limit"')), 1);
    assert.ok(text.includes('edgefleet_nvpmodel_info{') && /edgefleet_nvpmodel_info\{[^}]*instance="jetson-nano"[^}]*id="1",mode="5W"\} 1/.test(text), 'nvpmodel mode of the Nano');
    const lint = spawnSync('promtool', ['check', 'metrics'], { input: text, encoding: 'utf8' });
    assert.equal(lint.status, 0, lint.stdout + lint.stderr);
  });

  it('GET /nodes and edgefleet nodes show the GPU load and the total power', async () => {
    const store = openDb(join(dir, 'edgefleet.db'));
    try {
      const latest = latestReadings(store);
      assert.equal(latest.get('jetson-orin')!.gpuLoadPercent, 51.2);
      assert.ok(Math.abs(latest.get('jetson-orin')!.powerWatts! - 5.056 * 1.432) < 1e-9);
      assert.ok(Math.abs(latest.get('x86-rapl')!.powerWatts! - 15.5) < 1e-9);
      assert.equal(latest.get('rpi4')!.gpuLoadPercent, null);
      assert.equal(latest.get('rpi4')!.powerWatts, null);
    } finally {
      store.close();
    }
    const { handler } = await import('../functions/listNodes.js');
    process.env.EDGEFLEET_API_READ_KEY = 'read-key-for-test';
    const res = (await handler({ headers: { 'x-api-key': 'read-key-for-test' } } as never, lambdaContext('listNodes') as never)) as { statusCode: number; body: string };
    delete process.env.EDGEFLEET_API_READ_KEY;
    assert.equal(res.statusCode, 200, res.body);
    const api = Object.fromEntries((JSON.parse(res.body).nodes as Row[]).map((n) => [n.name, n.latest as Row]));
    assert.equal(api['jetson-orin']!.gpuLoadPercent, 51.2);
    assert.ok(Math.abs((api['x86-rapl']!.powerWatts as number) - 15.5) < 1e-9);
    const r = await runCli(['nodes'], { cwd: dir, env: { EDGEFLEET_INVENTORY: join(dir, 'hosts.ini'), EDGEFLEET_DB: join(dir, 'edgefleet.db') } });
    assert.equal(r.code, 0, r.stderr);
    const cells = (node: string) => tableCells(r.stdout, node, ['GPU', 'POWER']);
    // 5.056 V × 1.432 A = 7.240 W (the Orin's input rail); RAPL 15.5 W by hand (expected.json).
    assert.deepEqual(cells('jetson-orin'), ['51.2%', '7.2 W']);
    assert.deepEqual(cells('x86-rapl'), ['-', '15.5 W']);
    assert.deepEqual(cells('rpi4'), ['-', '-']);
  });
});
