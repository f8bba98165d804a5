/**
 * Faults in what nodes send, over real sshd nodes (test/harness/sshFleet.ts) collected by the
 * collectAll handler into a real SQLite file: output too big, floods of lines, binary garbage,
 * output cut off by sshd dying mid-round, a changed host key. Each case states the fault, what
 * the user sees (the node's status and reason) and what is stored (nothing from that node; every
 * other node's round whole). Expected sizes come from the caps' defaults in the README, not
 * from the code under test.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { chmodSync, cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, truncateSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import Database from 'better-sqlite3';
import { lambdaContext } from '../../cli/lambdaContext.js';
import type { CollectionSummary } from '../../shared/collect/collection.js';
import { METRIC_KINDS } from '../../shared/domain/index.js';
import { closeResources } from '../../shared/handler/resources.js';
import { startFleet, type Fleet } from '../harness/sshFleet.js';
import { processTree } from '../harness/procTree.js';

const MACHINES = join(import.meta.dirname, '..', 'fixtures', 'machines');
/** The README's defaults for collect.maxOutputBytes and collect.maxOutputLines. */
const MAX_BYTES = 16 * 1024 * 1024;
const MAX_LINES = 200_000;
const COMMAND_TIMEOUT_SECONDS = 4;
const TABLES = ['temperature', 'cpu', 'load', 'memory', 'storage', 'network'];
const ID = '(SELECT id FROM nodes WHERE name = ?)';

let fleet: Fleet;
let dir: string;
let db: Database.Database;
let names: string[];

/** rpi4's capture as a node root, then changed by `spoil`. */
function makeRoot(name: string, spoil: (root: string) => void = () => {}): string {
  const root = join(dir, 'roots', name);
  mkdirSync(root, { recursive: true });
  cpSync(join(MACHINES, 'rpi4', 'proc'), join(root, 'proc'), { recursive: true });
  cpSync(join(MACHINES, 'rpi4', 'sys'), join(root, 'sys'), { recursive: true, verbatimSymlinks: true });
  writeFileSync(join(root, 'proc', 'uptime'), '1000.00 3500.00\n');
  spoil(root);
  return root;
}

const ROOTS: Record<string, (root: string) => void> = {
  good: () => {},
  // 600 MB of zeros (sparse): before the caps, the hub died making one string of it.
  huge: (r) => {
    rmSync(join(r, 'proc', 'meminfo'));
    writeFileSync(join(r, 'proc', 'meminfo'), '');
    truncateSync(join(r, 'proc', 'meminfo'), 600 * 1000 * 1000);
  },
  // No newline ever: `head -n` reads forever, so only the byte cap stops it.
  zero: (r) => {
    rmSync(join(r, 'proc', 'stat'));
    symlinkSync('/dev/zero', join(r, 'proc', 'stat'));
  },
  // 3 files of 100,000 one-byte lines (600 kB, far under the byte cap): only the line cap stops it.
  lines: (r) => {
    for (const f of ['stat', 'meminfo', 'loadavg']) writeFileSync(join(r, 'proc', f), '0\n'.repeat(100_000));
  },
  // Every file the probe reads is random bytes (4 kB each).
  garbage: (r) => {
    for (const f of ['stat', 'meminfo', 'loadavg', 'uptime', 'net/dev']) writeFileSync(join(r, 'proc', f), randomBytes(4096));
    rmSync(join(r, 'sys'), { recursive: true });
    mkdirSync(join(r, 'sys', 'class', 'thermal', 'thermal_zone0'), { recursive: true });
    writeFileSync(join(r, 'sys', 'class', 'thermal', 'thermal_zone0', 'type'), randomBytes(512));
    writeFileSync(join(r, 'sys', 'class', 'thermal', 'thermal_zone0', 'temp'), randomBytes(512));
  },
  // Its probe prints /proc/stat and /proc/meminfo, then blocks on a FIFO: the test kills its sshd then.
  cut: (r) => {
    rmSync(join(r, 'proc', 'net', 'dev'));
    execFileSync('mkfifo', [join(r, 'proc', 'net', 'dev')]);
  },
  // Its key in known_hosts is replaced by another one before the round.
  rekeyed: () => {},
};

async function collectAll(): Promise<CollectionSummary> {
  const { handler } = await import('../../functions/collectAll.js');
  return (await handler({}, lambdaContext('collectAll') as never)) as CollectionSummary;
}

/** Peak resident memory growth (bytes) of this process while `fn` runs, sampled every 2 ms. */
async function peakRssGrowth<T>(fn: () => Promise<T>): Promise<{ result: T; peakBytes: number }> {
  const base = process.memoryUsage.rss();
  let peak = base;
  const timer = setInterval(() => (peak = Math.max(peak, process.memoryUsage.rss())), 2);
  try {
    const result = await fn();
    return { result, peakBytes: Math.max(peak, process.memoryUsage.rss()) - base };
  } finally {
    clearInterval(timer);
  }
}

function commOf(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/comm`, 'utf8').trim();
  } catch {
    return '';
  }
}

const rowsOf = (node: string) => Object.fromEntries(TABLES.map((t) => [t, (db.prepare(`SELECT COUNT(*) AS n FROM ${t} WHERE node_id = ${ID}`).get(node) as { n: number }).n]));
const nothingStored = (node: string) => assert.deepEqual(rowsOf(node), Object.fromEntries(TABLES.map((t) => [t, 0])), `${node}: rows stored`);

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'edgefleet-faults-out-'));
  chmodSync(dir, 0o755);
  names = Object.keys(ROOTS);
  const roots = names.map((n) => makeRoot(n, ROOTS[n]));
  fleet = await startFleet({ count: names.length });
  const lines = ['[edge]'];
  fleet.nodes.forEach((n, i) => {
    lines.push(
      `${names[i]} ansible_host=${n.host} ansible_port=${n.port} ansible_user=${n.user} ansible_ssh_private_key_file=${n.privateKeyFile} edgefleet_proc_root=${roots[i]}/proc edgefleet_sys_root=${roots[i]}/sys`,
    );
  });
  writeFileSync(join(dir, 'hosts.ini'), lines.join('\n') + '\n');
  Object.assign(process.env, {
    EDGEFLEET_INVENTORY: join(dir, 'hosts.ini'),
    EDGEFLEET_DB: join(dir, 'edgefleet.db'),
    EDGEFLEET_SSH_KNOWN_HOSTS_FILE: fleet.knownHostsFile,
    EDGEFLEET_COLLECT_COMMAND_TIMEOUT_SECONDS: String(COMMAND_TIMEOUT_SECONDS),
    EDGEFLEET_COLLECT_CONNECT_TIMEOUT_SECONDS: '2',
    EDGEFLEET_LOG_LEVEL: 'silent',
  });
  // rekeyed: known_hosts holds another ed25519 key for it (as after a reinstall, or a man in the middle).
  const rekeyed = fleet.nodes[names.indexOf('rekeyed')]!;
  const other = join(dir, 'other_key');
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', other]);
  const otherB64 = readFileSync(`${other}.pub`, 'utf8').split(' ')[1]!;
  const kh = readFileSync(fleet.knownHostsFile, 'utf8')
    .split('\n')
    .map((l) => (l.startsWith(`[${rekeyed.host}]:${rekeyed.port} `) ? `[${rekeyed.host}]:${rekeyed.port} ssh-ed25519 ${otherB64}` : l));
  writeFileSync(fleet.knownHostsFile, kh.join('\n'));
});

after(async () => {
  db?.close();
  await closeResources();
  await fleet?.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('what nodes send: bounded, complete, true', () => {
  let round: CollectionSummary;
  let roundMs: number;
  let peakBytes: number;

  before(async () => {
    const cut = fleet.nodes[names.indexOf('cut')]!;
    // cut's sshd processes die (kill -9) while its probe is mid-output; the shell and head are
    // left to find their pipe gone.
    // Once its head is blocked on the FIFO (stat and meminfo sent), as when sshd crashes.
    let orphans: number[] = [];
    const killer = setInterval(() => {
      const tree = processTree(cut.pid);
      if (!tree.some((p) => commOf(p) === 'head')) return;
      clearInterval(killer);
      orphans = tree;
      for (const p of tree) if (commOf(p) === 'sshd') process.kill(p, 'SIGKILL');
    }, 20);
    const t0 = performance.now();
    ({ result: round, peakBytes } = await peakRssGrowth(collectAll));
    roundMs = performance.now() - t0;
    clearInterval(killer);
    // What sshd left behind (head still blocked on its FIFO) is the test's to end.
    for (const p of orphans) {
      try {
        process.kill(p, 'SIGKILL');
      } catch {
        /* gone */
      }
    }
    db = new Database(join(dir, 'edgefleet.db'), { readonly: true });
    console.log(`# faults/output: round ${Math.round(roundMs)} ms, peak hub RSS growth ${(peakBytes / 2 ** 20).toFixed(1)} MiB with 3 nodes over the caps`);
  });

  const result = (node: string) => round.perNode.find((r) => r.node === node)!;
  const nodeRow = (node: string) => db.prepare('SELECT status, last_error AS error FROM nodes WHERE name = ?').get(node) as { status: string; error: string };

  it('a 600 MB proc file: the node is error "output over 16777216 bytes", nothing of it stored, read no further than the cap', () => {
    assert.equal(result('huge').status, 'error');
    assert.match(result('huge').error!, new RegExp(`output over ${MAX_BYTES} bytes`));
    assert.deepEqual(nodeRow('huge'), { status: 'error', error: result('huge').error });
    nothingStored('huge');
  });

  it('a proc file linked to /dev/zero (no newline, endless): error "output over 16777216 bytes", nothing stored', () => {
    assert.equal(result('zero').status, 'error');
    assert.match(result('zero').error!, new RegExp(`output over ${MAX_BYTES} bytes`));
    nothingStored('zero');
  });

  it('300,000 short lines (600 kB): error "output over 200000 lines", nothing stored', () => {
    assert.equal(result('lines').status, 'error');
    assert.match(result('lines').error!, new RegExp(`output over ${MAX_LINES} lines`));
    nothingStored('lines');
  });

  it('three huge nodes at once cost the hub under 160 MiB of memory, and the round its usual time', () => {
    // Each is read up to its 16 MiB cap, then dropped; before the caps /dev/zero took the hub to 9.8 GB.
    assert.ok(peakBytes < 160 * 2 ** 20, `peak RSS growth ${(peakBytes / 2 ** 20).toFixed(1)} MiB`);
    assert.ok(roundMs < (COMMAND_TIMEOUT_SECONDS + 2) * 1000, `round took ${Math.round(roundMs)} ms`);
  });

  it('binary garbage in every file: error naming each kind and the bad bytes, nothing stored', () => {
    const r = result('garbage');
    assert.equal(r.status, 'error');
    for (const kind of ['cpu', 'memory', 'network']) assert.match(r.error!, new RegExp(`${kind}: /proc/`));
    // Temperature: the zone's garbage is an error of that zone, never a reading.
    assert.deepEqual(rowsOf('garbage').temperature, 0);
    for (const t of ['cpu', 'load', 'memory', 'network']) assert.equal(rowsOf('garbage')[t], 0, t);
  });

  it('sshd killed mid-output: unreachable "closed before the command ended", nothing stored (not even the files it had sent)', () => {
    const r = result('cut');
    assert.equal(r.status, 'unreachable', r.error);
    assert.match(r.error!, /closed before the command ended/);
    nothingStored('cut');
  });

  it('a changed host key: unreachable "HOST KEY CHANGED", no credential sent, nothing stored', () => {
    const r = result('rekeyed');
    assert.equal(r.status, 'unreachable');
    assert.match(r.error!, /HOST KEY CHANGED/);
    nothingStored('rekeyed');
  });

  it('the good node beside them lands whole in the same round', () => {
    assert.equal(result('good').status, 'up', result('good').error);
    const rows = rowsOf('good');
    for (const t of ['temperature', 'load', 'memory', 'storage', 'network']) assert.ok(rows[t]! > 0, `good: no ${t} rows`);
    const runs = db.prepare(`SELECT kind, success FROM collector_runs WHERE node_id = ${ID}`).all('good') as { success: number }[];
    assert.equal(runs.length, METRIC_KINDS.length, 'one run per kind');
    assert.ok(runs.every((r) => r.success === 1), JSON.stringify(runs));
  });

  it('every failed node has a collector_runs row per kind saying why, with no rows', () => {
    for (const node of ['huge', 'zero', 'lines', 'cut', 'rekeyed']) {
      const runs = db.prepare(`SELECT success, rows, error FROM collector_runs WHERE node_id = ${ID}`).all(node) as { success: number; rows: number; error: string }[];
      assert.equal(runs.length, METRIC_KINDS.length, node);
      for (const run of runs) assert.deepEqual([run.success, run.rows, run.error], [0, 0, result(node).error], node);
    }
  });
});
