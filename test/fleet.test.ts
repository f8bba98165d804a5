/**
 * End to end over a real fleet: OpenSSH sshd nodes on loopback, each reading a captured
 * machine's /proc and /sys through edgefleet_proc_root / edgefleet_sys_root, collected by the
 * collectAll handler into SQLite. Expected values come from each machine's expected.json,
 * worked out apart from the parsers (see test/fixtures/machines/SOURCE.md).
 */
import assert from 'node:assert/strict';
import { chmodSync, closeSync, constants, cpSync, existsSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, statfsSync, writeFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import Database from 'better-sqlite3';
import { lambdaContext } from '../cli/lambdaContext.js';
import type { CollectionSummary } from '../shared/collect/collection.js';
import { closeResources } from '../shared/handler/resources.js';
import { startFleet, type Fleet } from './harness/sshFleet.js';
import { processTree } from './harness/procTree.js';

const MACHINES = join(import.meta.dirname, 'fixtures', 'machines');
/** Machines whose every kind must land exactly. */
const GOOD = ['x86-hub', 'rpi4', 'jetson-orin', 'x86-node-exporter'] as const;
const COMMAND_TIMEOUT_SECONDS = 2;
const CONNECT_TIMEOUT_SECONDS = 2;

type Expected = Record<string, any>;
const ID = '(SELECT id FROM nodes WHERE name = ?)';
const expected = (m: string): Expected => JSON.parse(readFileSync(join(MACHINES, m, 'expected.json'), 'utf8'));

let fleet: Fleet;
/** A node that accepts TCP and never says a word of SSH: only the connect timeout ends it. */
let silent: Server;
const silentSockets = new Set<Socket>();
let dir: string;
let db: Database.Database;
const roots = new Map<string, string>();

/** Lay a machine's capture out as a root: sample 0 now, sample 1 (proc1/) on `advance`. */
function makeRoot(machine: string, name = machine): string {
  const root = join(dir, 'roots', name);
  mkdirSync(root, { recursive: true });
  cpSync(join(MACHINES, machine, 'proc'), join(root, 'proc'), { recursive: true });
  if (existsSync(join(MACHINES, machine, 'sys'))) cpSync(join(MACHINES, machine, 'sys'), join(root, 'sys'), { recursive: true, verbatimSymlinks: true });
  else mkdirSync(join(root, 'sys'));
  writeFileSync(join(root, 'proc', 'uptime'), '1000.00 3500.00\n');
  return root;
}

function advance(machine: string, seconds: number): void {
  const root = roots.get(machine)!;
  cpSync(join(MACHINES, machine, 'proc1'), join(root, 'proc'), { recursive: true });
  // node_exporter's capture borrows procfs' network files (same upstream project).
  if (machine === 'x86-node-exporter') cpSync(join(MACHINES, 'x86-procfs', 'proc1', 'net'), join(root, 'proc', 'net'), { recursive: true });
  writeFileSync(join(root, 'proc', 'uptime'), `${(1000 + seconds).toFixed(2)} 3600.00\n`);
}

async function collectAll(): Promise<CollectionSummary> {
  const { handler } = await import('../functions/collectAll.js');
  return (await handler({}, lambdaContext('collectAll') as never)) as CollectionSummary;
}

const nextSecond = () => new Promise((r) => setTimeout(r, 1000 - (Date.now() % 1000) + 20));
const near = (actual: number, want: number, what: string) => assert.ok(Math.abs(actual - want) < 1e-6, `${what}: ${actual} ≠ ${want}`);

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'edgefleet-fleet-'));
  chmodSync(dir, 0o755); // the nodes' login user reads the roots
  for (const m of [...GOOD, 'garbage']) roots.set(m, makeRoot(m));
  // node_exporter's capture has no /proc/net/dev: give it procfs' (same upstream project).
  cpSync(join(MACHINES, 'x86-procfs', 'proc', 'net'), join(roots.get('x86-node-exporter')!, 'proc', 'net'), { recursive: true });
  // A node whose probe hangs: reading a FIFO nobody writes blocks `head` forever.
  const hang = makeRoot('x86-hub', 'hang');
  rmSync(join(hang, 'proc', 'stat'));
  execFileSync('mkfifo', [join(hang, 'proc', 'stat')]);
  roots.set('hang', hang);

  const names = [...GOOD, 'garbage', 'hang', 'live', 'dead'];
  fleet = await startFleet({ count: names.length });
  const lines = ['[edge]'];
  fleet.nodes.forEach((n, i) => {
    const name = names[i]!;
    const root = roots.get(name);
    const rootVars = root ? ` edgefleet_proc_root=${root}/proc edgefleet_sys_root=${root}/sys` : '';
    lines.push(`${name} ansible_host=${n.host} ansible_port=${n.port} ansible_user=${n.user} ansible_ssh_private_key_file=${n.privateKeyFile}${rootVars}`);
  });
  silent = createServer((sock) => silentSockets.add(sock));
  await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r));
  lines.push(`silent ansible_host=127.0.0.1 ansible_port=${(silent.address() as AddressInfo).port} ansible_user=nobody ansible_ssh_private_key_file=${fleet.clientKeyFile}`);
  lines.push('', '[jetsons]', 'jetson-orin', '[pis]', 'rpi4');
  writeFileSync(join(dir, 'hosts.ini'), lines.join('\n') + '\n');
  await fleet.stop(fleet.nodes[names.indexOf('dead')]!.name);

  Object.assign(process.env, {
    EDGEFLEET_INVENTORY: join(dir, 'hosts.ini'),
    EDGEFLEET_DB: join(dir, 'edgefleet.db'),
    EDGEFLEET_SSH_KNOWN_HOSTS_FILE: fleet.knownHostsFile,
    EDGEFLEET_COLLECT_COMMAND_TIMEOUT_SECONDS: String(COMMAND_TIMEOUT_SECONDS),
    EDGEFLEET_COLLECT_CONNECT_TIMEOUT_SECONDS: String(CONNECT_TIMEOUT_SECONDS),
    EDGEFLEET_LOG_LEVEL: 'silent',
  });
  db = new Database(join(dir, 'edgefleet.db'), { fileMustExist: false });
});

after(async () => {
  // The hanging probes' `head` still waits on the FIFO (sshd does not kill a command whose channel
  // the client closed): an end of file lets it, and its shell, exit.
  const hang = roots.get('hang');
  if (hang) {
    try {
      closeSync(openSync(join(hang, 'proc', 'stat'), constants.O_WRONLY | constants.O_NONBLOCK));
    } catch {
      // ENXIO: no reader left
    }
  }
  for (const s of silentSockets) s.destroy();
  silent?.close();
  db?.close();
  await closeResources();
  await fleet?.close();
  rmSync(dir, { recursive: true, force: true });
});

function commOf(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/comm`, 'utf8').trim();
  } catch {
    return '';
  }
}

describe('collectAll over a fleet of sshd nodes', () => {
  let round1: CollectionSummary;
  let round2: CollectionSummary;
  // The root's free space around the rounds (other work on the machine writes to the same disk).
  let availAroundRounds: number[];

  before(async () => {
    const availBefore = statfsSync('/');
    round1 = await collectAll();
    await nextSecond();
    for (const m of GOOD) advance(m, expected(m).netRates?.intervalSeconds ?? 10);
    round2 = await collectAll();
    const availAfter = statfsSync('/');
    availAroundRounds = [availBefore.bavail * availBefore.bsize, availAfter.bavail * availAfter.bsize];
  });

  const status = (s: CollectionSummary, node: string) => s.perNode.find((r) => r.node === node);

  it('collects every good node, and a dead, a hanging and a garbage node fail alone', () => {
    for (const m of [...GOOD, 'live']) assert.equal(status(round2, m)?.status, 'up', `${m}: ${status(round2, m)?.error}`);
    assert.equal(status(round2, 'dead')?.status, 'unreachable');
    assert.match(status(round2, 'dead')!.error!, /ECONNREFUSED/);
    assert.equal(status(round2, 'hang')?.status, 'error');
    assert.match(status(round2, 'hang')!.error!, /timed out/);
    assert.equal(status(round2, 'garbage')?.status, 'error');
    assert.equal(status(round2, 'silent')?.status, 'unreachable');
    assert.match(status(round2, 'silent')!.error!, /timed out/i);
    // The slowest node bounds the round (its timeout), not the sum of the others.
    const boundMs = (Math.max(COMMAND_TIMEOUT_SECONDS, CONNECT_TIMEOUT_SECONDS) + 1.5) * 1000;
    for (const r of [round1, round2]) assert.ok(r.durationMs < boundMs, `round took ${r.durationMs} ms`);
  });

  it('marks node status, last seen and last error in the nodes table', () => {
    const rows = db.prepare('SELECT name, status, last_seen_unix_seconds AS seen, last_error AS error FROM nodes').all() as Record<string, any>[];
    const by = Object.fromEntries(rows.map((r) => [r.name, r]));
    assert.equal(by.rpi4.status, 'up');
    assert.ok(by.rpi4.seen > 0);
    assert.equal(by.dead.status, 'unreachable');
    assert.equal(by.dead.seen, null);
    assert.match(by.dead.error, /cannot connect/);
    assert.deepEqual(
      (db.prepare(`SELECT grp FROM node_groups WHERE node_id = ${ID} ORDER BY grp`).all('jetson-orin') as { grp: string }[]).map((r) => r.grp),
      ['edge', 'jetsons'],
    );
  });

  it('stores every temperature sensor exactly, in °C, without offline zones', () => {
    for (const m of GOOD) {
      const want = expected(m).temperature.readings as Expected[];
      const got = db.prepare(`SELECT t.sensor, s.type, s.source, t.celsius FROM temperature t JOIN temperature_sensors s USING (node_id, sensor)
         WHERE t.node_id = ${ID} AND t.time = (SELECT MAX(time) FROM temperature WHERE node_id = t.node_id)`).all(m) as Expected[];
      const bySensor = (a: Expected, b: Expected) => (a.sensor < b.sensor ? -1 : 1);
      assert.deepEqual(got.sort(bySensor), want.map((r) => ({ sensor: r.sensor, type: r.type, source: r.source, celsius: r.celsius })).sort(bySensor), m);
      assert.ok(got.every((r) => r.celsius > -100), `${m}: an offline reading was stored`);
    }
  });

  it('stores CPU usage over the interval, never since boot, and load averages', () => {
    for (const m of GOOD) {
      const want = expected(m).cpuUsage.usage as Expected[];
      const got = db.prepare(`SELECT * FROM cpu WHERE node_id = ${ID}`).all(m) as Expected[];
      const order = want.map((w) => w.cpu);
      got.sort((a, b) => order.indexOf(a.cpu) - order.indexOf(b.cpu));
      assert.equal(got.length, want.length, `${m}: one row per cpu, from round 2 only`);
      want.forEach((w, i) => {
        const g = got[i]!;
        assert.equal(g.cpu, w.cpu);
        for (const f of ['user', 'nice', 'system', 'iowait', 'irq', 'softirq', 'steal', 'idle', 'usage']) near(g[`${f}_percent`], w[`${f}Percent`], `${m} cpu ${w.cpu} ${f}`);
      });
      const load = db.prepare(`SELECT load1, load5, load15 FROM load WHERE node_id = ${ID} ORDER BY time DESC LIMIT 1`).get(m);
      const c = expected(m).cpu;
      assert.deepEqual(load, { load1: c.load1, load5: c.load5, load15: c.load15 }, m);
    }
  });

  it('stores memory exactly', () => {
    for (const m of GOOD) {
      const w = expected(m).memory;
      const g = db.prepare(`SELECT * FROM memory WHERE node_id = ${ID} ORDER BY time DESC LIMIT 1`).get(m) as Expected;
      assert.equal(g.mem_total_bytes, w.memTotalBytes, m);
      assert.equal(g.mem_free_bytes, w.memFreeBytes, m);
      assert.equal(g.mem_available_bytes, w.memAvailableBytes ?? null, m);
      assert.equal(g.buffers_bytes, w.buffersBytes ?? null, m);
      assert.equal(g.cached_bytes, w.cachedBytes ?? null, m);
      assert.equal(g.swap_total_bytes, w.swapTotalBytes ?? null, m);
      near(g.used_percent, w.usedPercent, `${m} memory used`);
    }
  });

  it('stores network counters and bytes/s rates, lo left out, resets without a rate', () => {
    for (const m of GOOD) {
      const e = m === 'x86-node-exporter' ? expected('x86-procfs') : expected(m);
      const rates = new Map((e.netRates.rates as Expected[]).map((r) => [r.iface, r]));
      const got = db.prepare(`SELECT * FROM network n WHERE node_id = ${ID} AND time = (SELECT MAX(time) FROM network WHERE node_id = n.node_id)`).all(m) as Expected[];
      assert.ok(got.length > 0, m);
      assert.ok(!got.some((g) => g.iface === 'lo'), `${m}: lo is left out by default`);
      for (const g of got) {
        const r = rates.get(g.iface);
        if (!r) {
          assert.equal(g.rx_bytes_per_second, null, `${m} ${g.iface}: reset or new, no rate`);
          continue;
        }
        for (const f of ['rxBytes', 'txBytes', 'rxPackets', 'txPackets', 'rxErrors', 'txErrors', 'rxDrops', 'txDrops']) {
          const col = f.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`) + '_per_second';
          near(g[col], r[`${f}PerSecond`], `${m} ${g.iface} ${f}/s`);
        }
      }
    }
  });

  it('stores real mounts with the sizes statfs reports, pseudo filesystems left out', () => {
    const row = db.prepare(`SELECT * FROM storage WHERE node_id = ${ID} AND mount_point = '/' ORDER BY time DESC LIMIT 1`).get('live') as Expected;
    const fs = statfsSync('/');
    assert.equal(row.total_bytes, fs.blocks * fs.bsize);
    const slackBytes = 64 * 1024 * 1024;
    const [lo, hi] = [Math.min(...availAroundRounds), Math.max(...availAroundRounds)];
    assert.ok(row.available_bytes >= lo - slackBytes && row.available_bytes <= hi + slackBytes,
      `available ${row.available_bytes} within 64 MiB of what statfs said around the rounds (${lo}..${hi})`);
    const types = (db.prepare(`SELECT DISTINCT fs_type FROM mounts JOIN storage USING (node_id, mount_point) WHERE node_id = ${ID}`).all('live') as { fs_type: string }[]).map((r) => r.fs_type);
    for (const pseudo of ['proc', 'sysfs', 'tmpfs', 'devtmpfs', 'overlay', 'cgroup2']) assert.ok(!types.includes(pseudo), `${pseudo} stored`);
  });

  it('rejects a garbage node: logged, status error, nothing stored as data', () => {
    const err = status(round2, 'garbage')!.error!;
    // (storage reads the live mount table and df, which the root does not move: it stays good.)
    for (const kind of ['cpu', 'memory', 'network']) assert.match(err, new RegExp(`${kind}: `));
    for (const t of ['cpu', 'load', 'memory', 'network', 'temperature']) {
      assert.deepEqual(db.prepare(`SELECT COUNT(*) AS n FROM ${t} WHERE node_id = ${ID}`).get('garbage'), { n: 0 }, t);
    }
    const runs = db.prepare(`SELECT kind, success FROM collector_runs WHERE node_id = ${ID} AND success = 0`).all('garbage');
    assert.ok(runs.length >= 3);
  });

  it('keeps one SSH connection per node across rounds', async () => {
    await collectAll();
    const node = fleet.nodes[GOOD.indexOf('rpi4')]!;
    // The listener's tree: itself, one connection's monitor and its unprivileged child, and the
    // probe's long-lived shell under that child (transport/shellSession.ts).
    const children = processTree(node.pid).filter((p) => p !== node.pid);
    const sshd = children.filter((p) => commOf(p).startsWith('sshd'));
    assert.ok(sshd.length <= 2, `sshd has ${sshd.length} connection processes`);
    assert.deepEqual(children.filter((p) => !sshd.includes(p)).map(commOf), ['sh'], 'one shell: the probe\'s');
  });

  it('reconnects to a node that comes back', async () => {
    const dead = fleet.nodes[GOOD.length + 3]!;
    await fleet.start(dead.name);
    const s = await collectAll();
    assert.equal(status(s, 'dead')?.status, 'up');
    assert.equal(round1.perNode.length, s.perNode.length);
  });
});
