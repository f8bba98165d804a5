/**
 * Stopping a real `edgefleet hub` while a node is frozen (its sshd session SIGSTOPped after the
 * connection opened), and nodes leaving the inventory while it runs.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import Database from 'better-sqlite3';
import { startHub, sleep, within, writeFleetInventory, type HubProcess } from '../harness/hub.js';
import { freePort } from '../harness/ports.js';
import { processTree } from '../harness/procTree.js';
import { startFleet, type Fleet } from '../harness/sshFleet.js';
import { METRIC_KINDS } from '../../shared/domain/index.js';
import { until } from '../harness/until.js';

const SHUTDOWN_TIMEOUT_SECONDS = 4;
let dir: string;
let fleet: Fleet;
let hub: HubProcess;
const frozen: number[] = [];
const dbFile = () => join(dir, 'hub.db');

/** A node's sshd children: one session (privileged monitor + user process) per open connection. */
const sessions = (pid: number) => processTree(pid).filter((p) => p !== pid);

function query<T>(sql: string): T {
  const db = new Database(dbFile(), { readonly: true, fileMustExist: true });
  try {
    return db.prepare(sql).get() as T;
  } finally {
    db.close();
  }
}

/** test/harness/until.ts, failing with the stderr of `h` (the suite's hub unless named). */
const untilHub = (what: string, ms: number, ok: () => boolean, h: HubProcess | undefined = hub) => until(what, ms, ok, { detail: () => `${h?.stderr()}` });

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'edgefleet-faults-shutdown-'));
  chmodSync(dir, 0o755);
  fleet = await startFleet({ count: 2 });
  const inventory = writeFleetInventory(dir, fleet);
  hub = await startHub({
    cwd: dir,
    port: await freePort(),
    env: {
      EDGEFLEET_INVENTORY: inventory,
      EDGEFLEET_DB: dbFile(),
      EDGEFLEET_SSH_KNOWN_HOSTS_FILE: fleet.knownHostsFile,
      EDGEFLEET_HUB_INTERVAL_SECONDS: '1',
      // Far beyond the shutdown deadline: only the shutdown can end a probe of the frozen node.
      EDGEFLEET_COLLECT_COMMAND_TIMEOUT_SECONDS: '120',
      EDGEFLEET_HUB_SHUTDOWN_TIMEOUT_SECONDS: String(SHUTDOWN_TIMEOUT_SECONDS),
      EDGEFLEET_LOG_LEVEL: 'info',
    },
  });
  await untilHub('a first round over both nodes', 10_000, () => query<{ n: number }>("SELECT COUNT(*) AS n FROM nodes WHERE status = 'up'").n === 2);
});

after(async () => {
  for (const pid of frozen) {
    try {
      process.kill(pid, 'SIGCONT');
    } catch {
      // gone
    }
  }
  await hub?.kill();
  await fleet?.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('fault: shutdown and removed nodes', () => {
  it('a node removed from the inventory: its SSH connection is closed at the next round (no sshd session left); its row is marked removed, its history kept', async () => {
    const gone = fleet.nodes[1]!;
    assert.ok(sessions(gone.pid).length > 0, 'the hub holds no connection to the node yet');
    writeFleetInventory(dir, { ...fleet, nodes: [fleet.nodes[0]!] });
    await untilHub('the removed node’s sshd session to end, and the hub to say so', 5000, () => sessions(gone.pid).length === 0 && /connections closed for removed nodes/.test(hub.stderr()));
    const row = query<{ status: string; runs: number }>(`SELECT status, (SELECT COUNT(*) FROM collector_runs r WHERE r.node_id = n.id) AS runs FROM nodes n WHERE name = '${gone.name}'`);
    assert.equal(row.status, 'removed');
    assert.ok(row.runs > 0, 'its history went with it');
  });

  it(`SIGTERM with a node frozen (sshd session SIGSTOPped) mid-round: the hub cuts its connections and exits 0 within hub.shutdownTimeoutSeconds (${SHUTDOWN_TIMEOUT_SECONDS} s); the database is sound, every round whole`, async () => {
    const node = fleet.nodes[0]!;
    const session = sessions(node.pid);
    assert.ok(session.length > 0, 'the hub holds no connection to the node');
    const mark = hub.stderr().length;
    for (const pid of session) {
      process.kill(pid, 'SIGSTOP');
      frozen.push(pid);
    }
    // The next round now waits on the frozen node.
    await untilHub('a round stuck on the frozen node', 5000, () => /previous run still going/.test(hub.stderr().slice(mark)));
    const t0 = performance.now();
    hub.child.kill('SIGTERM');
    const { code, signal } = await within((SHUTDOWN_TIMEOUT_SECONDS + 3) * 1000, hub.exited, 'hub exit after SIGTERM');
    const seconds = (performance.now() - t0) / 1000;
    assert.equal(signal, null, hub.stderr());
    assert.equal(code, 0, hub.stderr());
    assert.ok(seconds <= SHUTDOWN_TIMEOUT_SECONDS + 1, `took ${seconds.toFixed(1)} s`);
    assert.match(hub.stderr(), /cutting every SSH connection/);
    assert.match(hub.stderr(), /"msg":"stopped"/);
    process.stdout.write(`# shutdown with a frozen node: ${seconds.toFixed(2)} s (deadline ${SHUTDOWN_TIMEOUT_SECONDS} s)\n`);
    assert.equal(Object.values(query<Record<string, string>>('PRAGMA integrity_check'))[0], 'ok');
    // Each stored round has one row per kind for each node it probed: none half-written.
    const partial = query<{ n: number }>(`SELECT COUNT(*) AS n FROM (SELECT time, node_id, COUNT(*) AS k FROM collector_runs GROUP BY time, node_id HAVING k % ${METRIC_KINDS.length} != 0)`);
    assert.equal(partial.n, 0);
  });
});

describe('fault: shutdown while connecting to a node that never speaks SSH', () => {
  let silentDir: string;
  let silentHub: HubProcess;
  let silent: Server;
  const sockets = new Set<Socket>();
  before(async () => {
    silentDir = mkdtempSync(join(tmpdir(), 'edgefleet-faults-silent-'));
    // Accepts TCP, never sends a banner: the handshake waits for its connect timeout.
    silent = createServer((s) => sockets.add(s));
    await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r));
    // A key to offer, so the hub gets as far as the handshake.
    const key = join(silentDir, 'key');
    execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', key]);
    const inventory = join(silentDir, 'hosts.ini');
    writeFileSync(inventory, `[edge]\nsilent ansible_host=127.0.0.1 ansible_port=${(silent.address() as AddressInfo).port} ansible_user=nobody\n`);
    silentHub = await startHub({
      cwd: silentDir,
      port: await freePort(),
      env: {
        EDGEFLEET_INVENTORY: inventory,
        EDGEFLEET_DB: join(silentDir, 'hub.db'),
        EDGEFLEET_HUB_INTERVAL_SECONDS: '1',
        EDGEFLEET_COLLECT_CONNECT_TIMEOUT_SECONDS: '120',
        EDGEFLEET_HUB_SHUTDOWN_TIMEOUT_SECONDS: String(SHUTDOWN_TIMEOUT_SECONDS),
        EDGEFLEET_SSH_PRIVATE_KEY_FILE: key,
        EDGEFLEET_SSH_KNOWN_HOSTS_FILE: join(silentDir, 'known_hosts'),
      },
    });
  });
  after(async () => {
    await silentHub?.kill();
    for (const s of sockets) s.destroy();
    await new Promise((r) => silent?.close(r));
    rmSync(silentDir, { recursive: true, force: true });
  });

  it(`SIGTERM while the SSH handshake with a silent node is pending (connect timeout 120 s): the handshake is cut, exit 0 within hub.shutdownTimeoutSeconds (${SHUTDOWN_TIMEOUT_SECONDS} s)`, async () => {
    await untilHub('a round stuck in the handshake', 5000, () => /previous run still going/.test(silentHub.stderr()) && sockets.size > 0, silentHub);
    const t0 = performance.now();
    silentHub.child.kill('SIGTERM');
    const { code } = await within((SHUTDOWN_TIMEOUT_SECONDS + 3) * 1000, silentHub.exited, 'hub exit after SIGTERM');
    const seconds = (performance.now() - t0) / 1000;
    assert.equal(code, 0, silentHub.stderr());
    assert.ok(seconds <= SHUTDOWN_TIMEOUT_SECONDS + 1, `took ${seconds.toFixed(1)} s`);
    process.stdout.write(`# shutdown during a silent handshake: ${seconds.toFixed(2)} s (deadline ${SHUTDOWN_TIMEOUT_SECONDS} s)\n`);
  });
});
