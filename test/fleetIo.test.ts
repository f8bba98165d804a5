/**
 * Issue 18's node_exporter kinds and nvidia-smi end to end: real sshd nodes on loopback reading
 * captured roots (edgefleet_proc_root / edgefleet_sys_root), two collectAll rounds 10 s apart on
 * the nodes' own clock, into SQLite. Expected values: each machine's expected-io.json
 * (tools/expected_io.py, plain Python, checked against node_exporter's e2e-output.txt),
 * test/fixtures/nvidia-smi/expected.json (by hand), statfs for the live node's inodes.
 */
import assert from 'node:assert/strict';
import { chmodSync, cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statfsSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import Database from 'better-sqlite3';
import { lambdaContext } from '../cli/lambdaContext.js';
import type { CollectionSummary } from '../shared/collect/collection.js';
import { closeResources } from '../shared/handler/resources.js';
import { renderMetrics } from '../shared/prometheus/scrape.js';
import { spawnSync } from 'node:child_process';
import { runCli, tableCells } from './harness/cli.js';
import { startFleet, type Fleet } from './harness/sshFleet.js';

const MACHINES = join(import.meta.dirname, 'fixtures', 'machines');
const NVIDIA = join(import.meta.dirname, 'fixtures', 'nvidia-smi');
/** Node name → fixture machine (undefined: the live machine), and the nvidia-smi it has on PATH. */
const NODES: Record<string, { machine?: string; nvidia?: string }> = {
  'x86-node-exporter': { machine: 'x86-node-exporter' },
  'jetson-orin': { machine: 'jetson-orin' },
  rpi4: { machine: 'rpi4' },
  live: {},
  'x86-gpu': { machine: 'x86-hub', nvidia: `cat ${join(NVIDIA, 'two-gpus.csv')}` },
  'x86-gpu-lost': { machine: 'x86-hub', nvidia: `cat ${join(NVIDIA, 'gpu-lost.txt')}; exit 15` },
};
const names = Object.keys(NODES);
const ID = '(SELECT id FROM nodes WHERE name = ?)';
type Json = Record<string, any>;
const json = (...p: string[]): Json => JSON.parse(readFileSync(join(...p), 'utf8'));
const near = (actual: number, want: number, what: string) => assert.ok(Math.abs(actual - want) <= 1e-9 * Math.max(1, Math.abs(want)), `${what}: ${actual} ≠ ${want}`);
const snake = (s: string) => s.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);

let fleet: Fleet;
let dir: string;
let db: Database.Database;
const rounds: CollectionSummary[] = [];
const roots = new Map<string, string>();

async function collectAll(): Promise<CollectionSummary> {
  const { handler } = await import('../functions/collectAll.js');
  return (await handler({}, lambdaContext('collectAll') as never)) as CollectionSummary;
}

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'edgefleet-fleet-io-'));
  chmodSync(dir, 0o755);
  const env: Record<string, string>[] = [];
  for (const name of names) {
    const { machine, nvidia } = NODES[name]!;
    const e: Record<string, string> = {};
    if (nvidia) {
      const bin = join(dir, 'bin', name);
      mkdirSync(bin, { recursive: true });
      writeFileSync(join(bin, 'nvidia-smi'), `#!/bin/sh\n${nvidia}\n`, { mode: 0o755 });
      chmodSync(join(dir, 'bin'), 0o755);
      e.PATH = `${bin}:/usr/bin:/bin`;
    }
    env.push(e);
    if (!machine) continue;
    const root = join(dir, 'roots', name);
    cpSync(join(MACHINES, machine, 'proc'), join(root, 'proc'), { recursive: true });
    if (existsSync(join(MACHINES, machine, 'sys'))) cpSync(join(MACHINES, machine, 'sys'), join(root, 'sys'), { recursive: true, verbatimSymlinks: true });
    else mkdirSync(join(root, 'sys'));
    writeFileSync(join(root, 'proc', 'uptime'), '1000.00 3500.00\n');
    roots.set(name, root);
    // node_exporter's capture has no /proc/net/dev: procfs' (same upstream project), as in fleet.test.ts.
    if (machine === 'x86-node-exporter') cpSync(join(MACHINES, 'x86-procfs', 'proc', 'net'), join(root, 'proc', 'net'), { recursive: true });
  }
  chmodSync(join(dir, 'roots'), 0o755);
  fleet = await startFleet({ count: names.length, env });
  const lines = ['[edge]'];
  fleet.nodes.forEach((n, i) => {
    const root = roots.get(names[i]!);
    lines.push(`${names[i]} ansible_host=${n.host} ansible_port=${n.port} ansible_user=${n.user} ansible_ssh_private_key_file=${n.privateKeyFile}` + (root ? ` edgefleet_proc_root=${root}/proc edgefleet_sys_root=${root}/sys` : ''));
  });
  writeFileSync(join(dir, 'hosts.ini'), lines.join('\n') + '\n');
  Object.assign(process.env, {
    EDGEFLEET_INVENTORY: join(dir, 'hosts.ini'),
    EDGEFLEET_DB: join(dir, 'edgefleet.db'),
    EDGEFLEET_SSH_KNOWN_HOSTS_FILE: fleet.knownHostsFile,
    EDGEFLEET_COLLECT_COMMAND_TIMEOUT_SECONDS: '4',
    EDGEFLEET_COLLECT_CONNECT_TIMEOUT_SECONDS: '3',
    EDGEFLEET_LOG_LEVEL: 'silent',
  });
  rounds.push(await collectAll());
  await new Promise((r) => setTimeout(r, 1000 - (Date.now() % 1000) + 20));
  // The second sample, 10 s later on the node's own clock (uptime).
  for (const [name, root] of roots) {
    const machine = NODES[name]!.machine!;
    if (existsSync(join(MACHINES, machine, 'proc1'))) cpSync(join(MACHINES, machine, 'proc1'), join(root, 'proc'), { recursive: true });
    writeFileSync(join(root, 'proc', 'uptime'), '1010.00 3600.00\n');
  }
  rounds.push(await collectAll());
  db = new Database(join(dir, 'edgefleet.db'), { readonly: true });
});

after(async () => {
  db?.close();
  await closeResources();
  await fleet?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

const status = (node: string) => rounds[1]!.perNode.find((r) => r.node === node)!;
const latest = (table: string, node: string, order: string) =>
  db.prepare(`SELECT * FROM ${table} t WHERE node_id = ${ID} AND time = (SELECT MAX(time) FROM ${table} WHERE node_id = t.node_id) ORDER BY ${order}`).all(node) as Json[];

describe('issue 18 kinds over a fleet of sshd nodes', () => {
  it('every node is up but the one whose nvidia-smi lost a GPU, which fails in nvidia-smi\'s words', () => {
    for (const n of names.filter((n) => n !== 'x86-gpu-lost')) assert.equal(status(n).status, 'up', `${n}: ${status(n).error}`);
    assert.equal(status('x86-gpu-lost').status, 'error');
    assert.match(status('x86-gpu-lost').error!, /^nvidia: nvidia-smi exited with status 15: Unable to determine the device handle for GPU0000:41:00\.0: GPU is lost/);
  });

  it('diskio: whole disks\' counters and bytes/s, IOPS and utilization over the 10 s', () => {
    for (const m of ['x86-node-exporter', 'jetson-orin', 'rpi4']) {
      const want = json(MACHINES, m, 'expected-io.json').diskio;
      const got = latest('diskio', m, 'device');
      const rates = new Map((want.rates as Json[]).map((r) => [r.device, r]));
      assert.deepEqual(got.map((g) => g.device), (want.rates as Json[]).map((r) => r.device).sort(), `${m}: devices (partitions, loop, ram left out)`);
      for (const g of got) {
        for (const [k, v] of Object.entries(rates.get(g.device)!)) if (k !== 'device') near(g[snake(k)], v as number, `${m} ${g.device} ${k}`);
      }
      const first = db.prepare(`SELECT COUNT(*) AS n FROM diskio WHERE node_id = ${ID} AND read_bytes_per_second IS NULL`).get(m) as { n: number };
      assert.equal(first.n, got.length, `${m}: the first round stored counters and no rate`);
    }
    // node_exporter's own counters for its fixture (e2e-output.txt), from the first round.
    const c0 = db.prepare(`SELECT * FROM diskio WHERE node_id = ${ID} AND device = 'sda' ORDER BY time LIMIT 1`).get('x86-node-exporter') as Json;
    const sda = (json(MACHINES, 'x86-node-exporter', 'expected-io.json').diskio.counters as Json[]).find((c) => c.device === 'sda')!;
    for (const [k, v] of Object.entries(sda)) if (k !== 'device') near(c0[snake(k)], v as number, `sda ${k}`);
  });

  it('pressure: avg10/60/300 and the percent of the interval stalled; no PSI, no rows and no error', () => {
    const want = json(MACHINES, 'x86-node-exporter', 'expected-io.json');
    const got = latest('pressure', 'x86-node-exporter', 'resource');
    const first = db.prepare(`SELECT * FROM pressure WHERE node_id = ${ID} AND time = (SELECT MIN(time) FROM pressure WHERE node_id = ${ID}) ORDER BY resource`).all('x86-node-exporter', 'x86-node-exporter') as Json[];
    assert.deepEqual(got.map((g) => g.resource), ['cpu', 'io', 'memory']);
    for (const [i, g] of got.entries()) {
      const w = (want.pressure as Json[]).find((p) => p.resource === g.resource)!;
      const pct = (want.pressurePercent as Json[]).find((p) => p.resource === g.resource)!;
      for (const line of ['some', 'full'] as const) {
        for (const k of ['avg10', 'avg60', 'avg300', 'totalSeconds'] as const) near(first[i]![`${line}_${snake(k)}`], w[line][k], `${g.resource} ${line} ${k}`);
      }
      assert.equal(first[i]!.some_percent, null, 'the first round has no rate');
      near(g.some_percent, pct.somePercent, `${g.resource} some %`);
      near(g.full_percent, pct.fullPercent, `${g.resource} full %`);
    }
    assert.deepEqual(db.prepare(`SELECT COUNT(*) AS n FROM pressure WHERE node_id = ${ID}`).get('rpi4'), { n: 0 });
  });

  it('network link: operstate, carrier and speed in bytes/s; unknown stays NULL, never 0', () => {
    // Joined by name with /proc/net/dev: eth0 on node_exporter's capture; eth0, wlan0, l4tbr0, docker0 on the Jetson (lo left out).
    for (const [m, joins] of [['x86-node-exporter', 1], ['jetson-orin', 4]] as const) {
      const want = json(MACHINES, m, 'expected-io.json').links as Json;
      const got = latest('network', m, 'iface');
      let joined = 0;
      for (const g of got) {
        const w = want[g.iface];
        if (!w) {
          assert.deepEqual([g.oper_state, g.carrier, g.speed_bytes_per_second], [null, null, null], `${m} ${g.iface}: no /sys entry`);
          continue;
        }
        joined++;
        assert.deepEqual([g.oper_state, g.carrier, g.speed_bytes_per_second], [w.operState ?? null, w.carrier ?? null, w.speedBytesPerSecond ?? null], `${m} ${g.iface}`);
      }
      assert.equal(joined, joins, `${m}: interfaces with link state`);
    }
  });

  it('memory: a Jetson\'s NvMapMemUsed, NULL elsewhere', () => {
    const mem = (n: string) => (db.prepare(`SELECT nvmap_used_bytes AS v FROM memory WHERE node_id = ${ID} ORDER BY time DESC LIMIT 1`).get(n) as { v: number | null }).v;
    assert.equal(mem('jetson-orin'), json(MACHINES, 'jetson-orin', 'expected.json').memory.nvMapMemUsedBytes);
    assert.equal(mem('rpi4'), null);
  });

  it('inodes: the live node\'s root filesystem as statfs counts it', () => {
    const g = db.prepare(`SELECT i.*, m.fs_type FROM inodes i JOIN mounts m USING (node_id, mount_point) WHERE node_id = ${ID} AND mount_point = '/' ORDER BY time DESC LIMIT 1`).get('live') as Json;
    const fs = statfsSync('/');
    assert.equal(g.files, fs.files);
    assert.ok(Math.abs(g.files_free - fs.ffree) < 100_000, `free inodes ${g.files_free} vs statfs ${fs.ffree}`);
    const types = (db.prepare(`SELECT DISTINCT fs_type FROM inodes JOIN mounts USING (node_id, mount_point) WHERE node_id = ${ID}`).all('live') as Json[]).map((r) => r.fs_type);
    for (const pseudo of ['proc', 'sysfs', 'tmpfs', 'devtmpfs', 'overlay']) assert.ok(!types.includes(pseudo), `${pseudo} stored`);
    // Read once a minute: the second round (a second later) ran no df -Pi, and its run is a success with no rows.
    assert.deepEqual(db.prepare(`SELECT COUNT(DISTINCT time) AS n FROM inodes WHERE node_id = ${ID}`).get('live'), { n: 1 });
    assert.deepEqual(db.prepare(`SELECT success, rows FROM collector_runs WHERE node_id = ${ID} AND kind = 'inodes' ORDER BY round_id DESC LIMIT 1`).get('live'), { success: 1, rows: 0 });
  });

  it('nvidia: a node with nvidia-smi stores each GPU; nodes without store none and show no error', () => {
    const want = json(NVIDIA, 'expected.json')['two-gpus.csv'].gpus as Json[];
    const got = latest('nvidia_gpu', 'x86-gpu', 'gpu_index');
    assert.equal(got.length, 2);
    got.forEach((g, i) => {
      const w = want[i]!;
      assert.deepEqual([g.uuid, g.gpu_index, g.name], [w.uuid, w.index, w.name]);
      for (const k of ['utilizationGpuPercent', 'utilizationMemoryPercent', 'memoryUsedBytes', 'memoryTotalBytes', 'temperatureCelsius', 'powerDrawWatts', 'powerLimitWatts', 'smClockMhz', 'memClockMhz', 'throttleReasons']) {
        near(g[snake(k)], w[k], `gpu ${i} ${k}`);
      }
    });
    for (const n of ['x86-node-exporter', 'jetson-orin', 'rpi4', 'live']) {
      assert.deepEqual(db.prepare(`SELECT COUNT(*) AS n FROM nvidia_gpu WHERE node_id = ${ID}`).get(n), { n: 0 }, n);
      const run = db.prepare(`SELECT success, rows, error FROM collector_runs WHERE node_id = ${ID} AND kind = 'nvidia' ORDER BY time DESC LIMIT 1`).get(n);
      assert.deepEqual(run, { success: 1, rows: 0, error: null }, n);
    }
    // The GPU nvidia-smi still printed is kept; the run says why it failed.
    assert.deepEqual(latest('nvidia_gpu', 'x86-gpu-lost', 'gpu_index').map((g) => [g.gpu_index, g.throttle_reasons]), [[0, 4]]);
    const lost = db.prepare(`SELECT success, rows, error FROM collector_runs WHERE node_id = ${ID} AND kind = 'nvidia' ORDER BY time DESC LIMIT 1`).get('x86-gpu-lost') as Json;
    assert.equal(lost.success, 0);
    assert.equal(lost.rows, 1);
    assert.match(lost.error, /GPU is lost/);
  });

  it('GET /nodes and edgefleet nodes show the busiest GPU\'s load and the GPUs\' watts (two-gpus.csv by hand: max(87, 0) %, 312.45 + 21.87 W); nodes without a GPU show none', async () => {
    const env = { EDGEFLEET_INVENTORY: join(dir, 'hosts.ini'), EDGEFLEET_DB: join(dir, 'edgefleet.db') };
    const { handler } = await import('../functions/listNodes.js');
    process.env.EDGEFLEET_API_READ_KEY = 'read-key-for-test';
    const res = (await handler({ headers: { 'x-api-key': 'read-key-for-test' } } as never, lambdaContext('listNodes') as never)) as { statusCode: number; body: string };
    delete process.env.EDGEFLEET_API_READ_KEY;
    assert.equal(res.statusCode, 200, res.body);
    const api = Object.fromEntries((JSON.parse(res.body).nodes as Json[]).map((n) => [n.name, n.latest]));
    assert.equal(api['x86-gpu'].gpuLoadPercent, 87);
    near(api['x86-gpu'].gpuPowerWatts, 334.32, 'x86-gpu watts');
    // The GPU nvidia-smi still answered for.
    assert.deepEqual([api['x86-gpu-lost'].gpuLoadPercent, api['x86-gpu-lost'].gpuPowerWatts], [64, 250.1]);
    for (const n of ['rpi4', 'live']) assert.deepEqual([api[n].gpuLoadPercent, api[n].gpuPowerWatts], [null, null], n);
    const r = await runCli(['nodes'], { cwd: dir, env });
    assert.equal(r.code, 0, r.stderr);
    const cell = (node: string) => tableCells(r.stdout, node, ['GPU'])[0];
    assert.equal(cell('x86-gpu'), '87.0% 334.3 W');
    assert.equal(cell('x86-gpu-lost'), '64.0% 250.1 W');
    assert.equal(cell('rpi4'), '-');
  });

  it('/metrics: node_exporter names for disks, inodes, pressure, link and NvMap, DCGM exporter names for GPUs; promtool lints them', async () => {
    const body = (await renderMetrics(db as never, { openMetrics: false })).body.toString();
    const value = (re: RegExp) => {
      const m = body.match(new RegExp(`^${re.source} (\\S+)(?: \\d+)?$`, 'm'));
      assert.ok(m, `no ${re.source}`);
      return Number(m![1]);
    };
    // node_exporter's own e2e-output.txt values for its fixture's sda: the last round is proc1 (sda + 80000 sectors = 40960000 bytes).
    near(value(/node_disk_read_bytes_total\{instance="x86-node-exporter",groups=",edge,",device="sda"\}/), 5.13713216512e11 + 80000 * 512, 'sda read bytes');
    near(value(/node_disk_io_time_seconds_total\{instance="x86-node-exporter",groups=",edge,",device="sda"\}/), 9653.88 + 2.5, 'sda io time');
    near(value(/node_pressure_io_stalled_seconds_total\{instance="x86-node-exporter",groups=",edge,"\}/), 159.229614 + 0.9, 'io full');
    near(value(/node_network_speed_bytes\{instance="x86-node-exporter",groups=",edge,",device="eth0"\}/), 1.25e8, 'eth0 speed');
    near(value(/node_network_up\{instance="x86-node-exporter",groups=",edge,",device="eth0"\}/), 1, 'eth0 up');
    assert.doesNotMatch(body, /node_network_speed_bytes\{instance="jetson-orin",groups=",edge,",device="wlan0"\}/, 'wifi speed unknown: no sample');
    near(value(/node_memory_NvMapMemUsed_bytes\{instance="jetson-orin",groups=",edge,"\}/), 1312817152, 'NvMap');
    near(value(/node_filesystem_files\{instance="live",groups=",edge,",device="[^"]*",fstype="[^"]*",mountpoint="\/"\}/), statfsSync('/').files, 'inodes');
    const gpu0 = 'instance="x86-gpu",groups=",edge,",gpu="0",UUID="GPU-e18afb8d-1627-f8ff-2ba3-c05c5a8e9e67",modelName="NVIDIA GeForce RTX 3090"';
    near(value(new RegExp(`DCGM_FI_DEV_GPU_UTIL\\{${gpu0}\\}`)), 87, 'GPU util');
    near(value(new RegExp(`DCGM_FI_DEV_FB_USED\\{${gpu0}\\}`)), 18432, 'FB used, MiB');
    near(value(new RegExp(`DCGM_FI_DEV_POWER_USAGE\\{${gpu0}\\}`)), 312.45, 'power');
    near(value(new RegExp(`DCGM_FI_DEV_SM_CLOCK\\{${gpu0}\\}`)), 1905, 'SM clock');
    near(value(new RegExp(`DCGM_FI_DEV_GPU_TEMP\\{${gpu0}\\}`)), 71, 'temp');
    const lint = spawnSync('promtool', ['check', 'metrics'], { input: body, encoding: 'utf8' });
    const problems = (lint.stdout + lint.stderr).split('\n').filter(Boolean);
    // node_exporter's meminfo names (node_memory_NvMapMemUsed_bytes too) and dcgm-exporter's `modelName` label are camelCase, which promlint dislikes.
    for (const p of problems) assert.match(p, /^(node_memory_\w+_bytes metric|DCGM_FI_DEV_\w+ label) names should be written in 'snake_case' not 'camelCase'$/, p);
    assert.ok(problems.some((p) => p.startsWith('DCGM_FI_DEV_GPU_UTIL')), 'the GPU families are there');
  });
});
