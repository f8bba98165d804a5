/**
 * Faults in the probe's run on a node, over real sshd nodes and SQLite: output cut at any byte,
 * a hung mount's df, a command that overruns, a 64-bit counter reset, a last file without a
 * newline. Each case states the fault, what the user sees and what is stored.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { chmodSync, cpSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { processesWith } from '../harness/procs.js';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import Database from 'better-sqlite3';
import { lambdaContext } from '../../cli/lambdaContext.js';
import type { CollectionSummary } from '../../shared/collect/collection.js';
import { METRIC_KINDS } from '../../shared/domain/index.js';
import { DF_SECTION, newProbeNonce, probeCommand } from '../../shared/collect/probes.js';
import { COLLECTORS } from '../../shared/collect/kinds/index.js';
import { closeResources } from '../../shared/handler/resources.js';
import { DF_INODES_SECTION, probeEnd, splitProbeOutput } from '../../shared/parse/index.js';
import { SshTransport } from '../../shared/transport/index.js';
import { startFleet, type Fleet } from '../harness/sshFleet.js';

const MACHINES = join(import.meta.dirname, '..', 'fixtures', 'machines');
const COMMAND_TIMEOUT_SECONDS = 4;
/** What the round makes of collect.dfTimeoutSeconds (3) under a 4 s command timeout: at most half of it. */
const DF_BOUND_SECONDS = 2;
/** The fake df sleeps this long: a number no other process here sleeps for. */
const HUNG_DF_SLEEP = 4217;
const ID = '(SELECT id FROM nodes WHERE name = ?)';

let fleet: Fleet;
let dir: string;
let db: Database.Database;
const NAMES = ['good', 'hungdf', 'nonewline', 'reset'] as const;
const roots = new Map<string, string>();

function makeRoot(name: string, machine = 'rpi4'): string {
  const root = join(dir, 'roots', name);
  mkdirSync(root, { recursive: true });
  cpSync(join(MACHINES, machine, 'proc'), join(root, 'proc'), { recursive: true });
  cpSync(join(MACHINES, machine, 'sys'), join(root, 'sys'), { recursive: true, verbatimSymlinks: true });
  writeFileSync(join(root, 'proc', 'uptime'), '1000.00 3500.00\n');
  roots.set(name, root);
  return root;
}

const NET_DEV = (eth0RxBytes: number) =>
  'Inter-|   Receive                                                |  Transmit\n' +
  ' face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls carrier compressed\n' +
  `  eth0: ${eth0RxBytes} 1000 0 0 0 0 0 0 5000 50 0 0 0 0 0 0\n`;

async function collectAll(): Promise<CollectionSummary> {
  const { handler } = await import('../../functions/collectAll.js');
  return (await handler({}, lambdaContext('collectAll') as never)) as CollectionSummary;
}

const nextSecond = () => new Promise((r) => setTimeout(r, 1000 - (Date.now() % 1000) + 20));


before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'edgefleet-faults-probe-'));
  chmodSync(dir, 0o755);
  for (const n of NAMES) makeRoot(n);
  // nonewline: the probe's last file (uptime) ends without a newline.
  writeFileSync(join(roots.get('nonewline')!, 'proc', 'uptime'), '1000.00 3500.00');
  writeFileSync(join(roots.get('reset')!, 'proc', 'net', 'dev'), NET_DEV(3_000_000_000));
  // hungdf: a df that never answers, as statfs on a dead NFS server; first on its PATH.
  const fakeBin = join(dir, 'fakebin');
  mkdirSync(fakeBin);
  // Until the mount comes back (the flag file): then the real df.
  writeFileSync(join(fakeBin, 'df'), `#!/bin/sh\n[ -e ${join(dir, 'mount-back')} ] && exec /usr/bin/df "$@"\nexec sleep ${HUNG_DF_SLEEP}\n`, { mode: 0o755 });
  fleet = await startFleet({ count: NAMES.length, env: [{}, { PATH: `${fakeBin}:/usr/bin:/bin` }, {}, {}] });
  const lines = ['[edge]'];
  fleet.nodes.forEach((n, i) => {
    const root = roots.get(NAMES[i]!)!;
    lines.push(`${NAMES[i]} ansible_host=${n.host} ansible_port=${n.port} ansible_user=${n.user} ansible_ssh_private_key_file=${n.privateKeyFile} edgefleet_proc_root=${root}/proc edgefleet_sys_root=${root}/sys`);
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
});

after(async () => {
  db?.close();
  await closeResources();
  await fleet?.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('output cut at any byte is never data', () => {
  for (const machine of ['x86-hub', 'rpi4', 'jetson-orin', 'x86-node-exporter']) {
    it(`${machine}: the real probe's output cut at every byte: refused "output cut off" before the marker, no storage after it; whole, accepted`, () => {
      const root = join(MACHINES, machine);
      const nonce = newProbeNonce();
      const roots = { procRoot: join(root, 'proc'), sysRoot: join(root, 'sys') };
      const command = probeCommand(METRIC_KINDS, roots, { nonce, dfTimeoutSeconds: 3 });
      const full = execFileSync('/bin/sh', ['-c', command], { encoding: 'utf8' });
      const whole = splitProbeOutput(probeEnd(full, nonce, 0).body, roots);
      assert.ok(whole.get(DF_SECTION)!.startsWith('Filesystem'));
      const markerEnd = full.indexOf(`==> ${DF_SECTION} <==`);
      let refused = 0;
      let dfCut = 0;
      for (let cut = 0; cut < full.length; cut++) {
        const text = full.slice(0, cut);
        if (cut < markerEnd) {
          assert.throws(() => probeEnd(text, nonce, 0), /output cut off/, `cut at ${cut} of ${full.length}`);
          refused++;
          continue;
        }
        // Past the marker only df's section can be short, and then the command has no exit
        // status of its own (SSH closes a channel after its last byte): storage refuses it,
        // and the files before the marker are the whole output's, byte for byte.
        const files = splitProbeOutput(probeEnd(text, nonce, null).body, roots);
        assert.throws(() => COLLECTORS.storage.collect({ files, nowMs: 0, filters: {}, df: { exitStatus: null, timedOut: false, bounded: false, boundSeconds: 3, commandTimeoutSeconds: 10 } }), /df did not answer/);
        assert.throws(() => COLLECTORS.inodes.collect({ files, nowMs: 0, filters: {}, df: { exitStatus: null, timedOut: false, bounded: false, boundSeconds: 3, commandTimeoutSeconds: 10 } }), /df did not answer/);
        for (const [path, body] of whole) if (path !== DF_SECTION && path !== DF_INODES_SECTION) assert.equal(files.get(path), body, `${path} at cut ${cut}`);
        dfCut++;
      }
      assert.equal(refused + dfCut, full.length);
      assert.ok(refused > 3000, `${refused} cut points before the marker`);
      // Another round's marker (a replayed or faked output) is refused too.
      assert.throws(() => probeEnd(full, newProbeNonce(), 0), /output cut off/);
    });
  }
});

describe('ssh: a command that overruns ends alone', () => {
  it('closes its channel and kills the remote command; the shared connection and its other commands go on', async () => {
    const n = fleet.nodes[0]!;
    const t = new SshTransport({ host: n.host, port: n.port, user: n.user, privateKeyFile: n.privateKeyFile, knownHostsFile: fleet.knownHostsFile, acceptNewHostKeys: false, connectTimeoutMs: 3000 });
    try {
      await t.exec('true', { timeoutMs: 3000 });
      const tag = 4219;
      // A pull or a tunnel on the same connection, still running when the other command times out.
      const other = t.exec('sleep 1.5; echo still here', { timeoutMs: 5000 });
      const t0 = performance.now();
      await assert.rejects(t.exec(`sleep ${tag}`, { timeoutMs: 500 }), /timed out after 500 ms/);
      assert.ok(performance.now() - t0 < 1500);
      assert.equal((await other).stdout, 'still here\n', 'the other command survived');
      await new Promise((r) => setTimeout(r, 200));
      assert.deepEqual(processesWith(`sleep\0${tag}\0`), [], 'the overrun command is gone from the node');
      assert.equal((await t.exec('echo again', { timeoutMs: 3000 })).stdout, 'again\n');
    } finally {
      await t.close();
    }
  });
});

describe('collectAll with a hung mount, a 64-bit counter reset and a last file without a newline', () => {
  const rounds: { summary: CollectionSummary; ms: number; dfLeft: number[]; storageState?: Record<string, unknown> }[] = [];

  before(async () => {
    const round = async () => {
      const t0 = performance.now();
      const summary = await collectAll();
      const ms = performance.now() - t0;
      const peek = new Database(join(dir, 'edgefleet.db'), { readonly: true });
      const row = peek.prepare(`SELECT sample_json FROM counter_state WHERE node_id = ${ID} AND kind = 'storage'`).get('hungdf') as { sample_json: string } | undefined;
      peek.close();
      // sshd delivers the KILL a moment after the channel's signal request: allow it 1 s.
      let dfLeft = processesWith(`sleep\0${HUNG_DF_SLEEP}\0`);
      for (const until = Date.now() + 1000; dfLeft.length && Date.now() < until; dfLeft = processesWith(`sleep\0${HUNG_DF_SLEEP}\0`)) await new Promise((r) => setTimeout(r, 20));
      rounds.push({ summary, ms, dfLeft: dfLeft.map((p) => p.pid), storageState: row && JSON.parse(row.sample_json) });
    };
    await round();
    await nextSecond();
    // reset: a 64-bit counter restarts (driver reload) 10 s later: 3 GB → 100 B.
    writeFileSync(join(roots.get('reset')!, 'proc', 'net', 'dev'), NET_DEV(100));
    writeFileSync(join(roots.get('reset')!, 'proc', 'uptime'), '1010.00 3600.00\n');
    cpSync(join(MACHINES, 'rpi4', 'proc1'), join(roots.get('hungdf')!, 'proc'), { recursive: true });
    await round();
    await nextSecond();
    writeFileSync(join(dir, 'mount-back'), '');
    await round();
    db = new Database(join(dir, 'edgefleet.db'), { readonly: true });
  });

  const result = (i: number, node: string) => rounds[i]!.summary.perNode.find((r) => r.node === node)!;
  const count = (table: string, node: string) => (db.prepare(`SELECT COUNT(*) AS n FROM ${table} WHERE node_id = ${ID}`).get(node) as { n: number }).n;
  const storageTimes = (node: string) => (db.prepare(`SELECT DISTINCT time FROM storage WHERE node_id = ${ID}`).all(node) as { time: number }[]).length;

  it(`a hung mount, first round: the command timeout (${COMMAND_TIMEOUT_SECONDS} s) ends df only: error "df did not answer", every other kind stored`, () => {
    const r = result(0, 'hungdf');
    assert.equal(r.status, 'error');
    assert.match(r.error!, new RegExp(`^storage: df did not answer within ${COMMAND_TIMEOUT_SECONDS} s .*bounded to ${DF_BOUND_SECONDS} s on this node`));
    // Ended at the command timeout, not later (the node's own time, connect included).
    assert.ok(r.durationMs < (COMMAND_TIMEOUT_SECONDS + 1.5) * 1000, `hungdf took ${Math.round(r.durationMs)} ms`);
    for (const t of ['temperature', 'load', 'memory', 'network']) assert.ok(count(t, 'hungdf') > 0, `hungdf: no ${t}`);
  });

  it(`a hung mount, next round: remembered (counter_state), df bounded on the node to ${DF_BOUND_SECONDS} s, the node no longer waits the command timeout`, () => {
    const r = result(1, 'hungdf');
    assert.equal(r.status, 'error');
    assert.match(r.error!, new RegExp(`^storage: df did not answer within ${DF_BOUND_SECONDS} s`));
    assert.ok(r.durationMs < COMMAND_TIMEOUT_SECONDS * 1000, `hungdf took ${Math.round(r.durationMs)} ms`);
    assert.ok(count('cpu', 'hungdf') > 0, 'cpu usage from round 2');
    const since = rounds[0]!.storageState?.dfHungSinceMs;
    assert.equal(typeof since, 'number');
    assert.deepEqual(rounds[1]!.storageState, { dfHungSinceMs: since }, 'hung since the first round');
  });

  it('a hung mount leaves no df running on the node after any round (within 1 s)', () => {
    for (const [i, r] of rounds.entries()) assert.deepEqual(r.dfLeft, [], `after round ${i + 1}`);
  });

  it('a hung mount that answers again: storage stored that round, the bound dropped, no storage rows before', () => {
    assert.equal(result(2, 'hungdf').status, 'up', result(2, 'hungdf').error);
    assert.equal(storageTimes('hungdf'), 1, 'storage from round 3 only');
    assert.deepEqual(rounds[2]!.storageState, {});
  });

  it('a 64-bit counter reset (3 GB → 100 B): no rate that round (not 129 MB/s), the counters kept', () => {
    assert.equal(result(1, 'reset').status, 'up');
    const rows = db.prepare(`SELECT rx_bytes, rx_bytes_per_second AS rate FROM network WHERE node_id = ${ID} AND iface = 'eth0' ORDER BY time LIMIT 2`).all('reset');
    assert.deepEqual(rows, [
      { rx_bytes: 3_000_000_000, rate: null },
      { rx_bytes: 100, rate: null },
    ]);
  });

  it('a last proc file without a newline: the df section still arrives and storage is stored', () => {
    assert.equal(result(0, 'nonewline').status, 'up', result(0, 'nonewline').error);
    assert.ok(count('storage', 'nonewline') > 0);
    assert.equal(count('storage', 'nonewline'), count('storage', 'good'));
  });
});
