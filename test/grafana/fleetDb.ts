/**
 * A database filled by a real collection, for the Grafana tests and benchmarks: OpenSSH sshd
 * nodes on loopback, each reading a captured machine's /proc and /sys (the approach of
 * test/fleet.test.ts), two collectAll rounds (so CPU usage and network rates exist), one node
 * that is down (status `unreachable`), one that went down after the first round (its readings
 * stale), and the rollups brought up to date.
 */
import { chmodSync, cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { lambdaContext } from '../../cli/lambdaContext.js';
import type { CollectionSummary } from '../../shared/collect/collection.js';
import { closeResources } from '../../shared/handler/resources.js';
import { openDb, type Db } from '../../shared/store/db.js';
import { updateRollups } from '../../shared/store/rollups.js';
import { startFleet, type Fleet } from '../harness/sshFleet.js';

const MACHINES = join(import.meta.dirname, '..', 'fixtures', 'machines');
/** Issue 18's board files laid over a machine, so the GPU, power and clock panels have rows: Orin's GPU and INA3221, the Pi 4's cpufreq and throttle word, node_exporter's RAPL, cpufreq and throttle counters. */
const ACCEL = join(import.meta.dirname, '..', 'fixtures', 'accel');
const ACCEL_OVER: Record<string, { from: string; dirs: string[] }> = {
  'jetson-orin': { from: 'jetson-orin', dirs: ['sys/class/devfreq', 'sys/class/hwmon/hwmon1', 'sys/devices/system/cpu'] },
  rpi4: { from: 'rpi4', dirs: ['sys/devices'] },
  'x86-node-exporter': { from: 'x86-rapl', dirs: ['sys/class/powercap', 'sys/devices/system/cpu'] },
};
/** Captured machines whose every kind collects cleanly. */
export const FLEET_MACHINES = ['x86-hub', 'rpi4', 'jetson-orin', 'x86-node-exporter'] as const;
/** An inventory host whose sshd is stopped: a node that is `unreachable`, with no metrics. */
export const DOWN_NODE = 'down';
/** x86-hub's capture with a fake nvidia-smi on its PATH printing two GPUs (test/fixtures/nvidia-smi/two-gpus.csv). */
export const NVIDIA_NODE = 'x86-gpu';
/** rpi4's capture, answering the first round only: `unreachable` after the second, its readings stale. */
export const GONE_NODE = 'gone';

export interface FleetDb {
  dir: string;
  path: string;
  db: Db;
  /** The unix seconds of the last collection round. */
  collectedAt: number;
  /** Node names, as stored in nodes.name. */
  nodes: string[];
  close(): Promise<void>;
}

function makeRoot(dir: string, machine: string, name = machine): string {
  const root = join(dir, 'roots', name);
  mkdirSync(root, { recursive: true });
  cpSync(join(MACHINES, machine, 'proc'), join(root, 'proc'), { recursive: true });
  if (existsSync(join(MACHINES, machine, 'sys'))) cpSync(join(MACHINES, machine, 'sys'), join(root, 'sys'), { recursive: true, verbatimSymlinks: true });
  else mkdirSync(join(root, 'sys'));
  // node_exporter's capture has no /proc/net/dev: it borrows procfs' (same upstream project).
  if (machine === 'x86-node-exporter') cpSync(join(MACHINES, 'x86-procfs', 'proc', 'net'), join(root, 'proc', 'net'), { recursive: true });
  const over = ACCEL_OVER[machine];
  for (const d of over?.dirs ?? []) cpSync(join(ACCEL, over!.from, d), join(root, d), { recursive: true });
  writeFileSync(join(root, 'proc', 'uptime'), '1000.00 3500.00\n');
  return root;
}

/** Second sample of a capture (proc1/), `seconds` later on the node's uptime clock. */
function advance(root: string, machine: string): void {
  const expected = JSON.parse(readFileSync(join(MACHINES, machine, 'expected.json'), 'utf8')) as { netRates?: { intervalSeconds?: number } };
  cpSync(join(MACHINES, machine, 'proc1'), join(root, 'proc'), { recursive: true });
  if (machine === 'x86-node-exporter') cpSync(join(MACHINES, 'x86-procfs', 'proc1', 'net'), join(root, 'proc', 'net'), { recursive: true });
  // RAPL's and the throttle counters' second sample.
  if (machine === 'x86-node-exporter') cpSync(join(ACCEL, 'x86-rapl', 'sys1'), join(root, 'sys'), { recursive: true });
  writeFileSync(join(root, 'proc', 'uptime'), `${(1000 + (expected.netRates?.intervalSeconds ?? 10)).toFixed(2)} 3600.00\n`);
}

async function collectAll(): Promise<CollectionSummary> {
  const { handler } = await import('../../functions/collectAll.js');
  return (await handler({}, lambdaContext('collectAll') as never)) as CollectionSummary;
}

const nextSecond = () => new Promise((r) => setTimeout(r, 1000 - (Date.now() % 1000) + 20));

/**
 * Collect two rounds over a small fleet into a fresh database. Groups: every node in `edge`,
 * `jetson-orin` also in `jetsons`, `rpi4` also in `pis`. `rollupNow` (default: three days after
 * the collection) is handed to updateRollups, so that the collected minute and hour are final
 * and both rollup levels hold rows.
 */
export async function collectFleetDb(opts: { rollupNow?: number } = {}): Promise<FleetDb> {
  const dir = mkdtempSync(join(tmpdir(), 'edgefleet-grafana-'));
  chmodSync(dir, 0o755); // the nodes' login user reads the roots
  const roots = new Map<string, string>(FLEET_MACHINES.map((m) => [m, makeRoot(dir, m)]));
  roots.set(NVIDIA_NODE, makeRoot(dir, 'x86-hub', NVIDIA_NODE));
  roots.set(GONE_NODE, makeRoot(dir, 'rpi4', GONE_NODE));
  const machineOf = (name: string) => (name === NVIDIA_NODE ? 'x86-hub' : name === GONE_NODE ? 'rpi4' : name);
  const names = [...FLEET_MACHINES, DOWN_NODE, NVIDIA_NODE, GONE_NODE];
  const bin = join(dir, 'bin');
  mkdirSync(bin, { mode: 0o755 });
  writeFileSync(join(bin, 'nvidia-smi'), `#!/bin/sh\ncat ${join(MACHINES, '..', 'nvidia-smi', 'two-gpus.csv')}\n`, { mode: 0o755 });
  let fleet: Fleet | undefined;
  const saved = { ...process.env };
  try {
    fleet = await startFleet({ count: names.length, env: names.map((n): Record<string, string> => (n === NVIDIA_NODE ? { PATH: `${bin}:/usr/bin:/bin` } : {})) });
    const lines = ['[edge]'];
    fleet.nodes.forEach((n, i) => {
      const name = names[i]!;
      const root = roots.get(name);
      const rootVars = root ? ` edgefleet_proc_root=${root}/proc edgefleet_sys_root=${root}/sys` : '';
      lines.push(`${name} ansible_host=${n.host} ansible_port=${n.port} ansible_user=${n.user} ansible_ssh_private_key_file=${n.privateKeyFile}${rootVars}`);
    });
    lines.push('', '[jetsons]', 'jetson-orin', '[pis]', 'rpi4');
    writeFileSync(join(dir, 'hosts.ini'), lines.join('\n') + '\n');
    await fleet.stop(fleet.nodes[names.indexOf(DOWN_NODE)]!.name);

    const path = join(dir, 'edgefleet.db');
    Object.assign(process.env, {
      EDGEFLEET_INVENTORY: join(dir, 'hosts.ini'),
      EDGEFLEET_DB: path,
      EDGEFLEET_SSH_KNOWN_HOSTS_FILE: fleet.knownHostsFile,
      EDGEFLEET_COLLECT_COMMAND_TIMEOUT_SECONDS: '2',
      EDGEFLEET_COLLECT_CONNECT_TIMEOUT_SECONDS: '2',
      EDGEFLEET_LOG_LEVEL: 'silent',
    });
    await collectAll();
    await nextSecond();
    await fleet.stop(fleet.nodes[names.indexOf(GONE_NODE)]!.name);
    for (const [m, root] of roots) advance(root, machineOf(m));
    await collectAll();
    await closeResources();
    await fleet.close();
    fleet = undefined;

    const db = openDb(path);
    const last = (db.prepare('SELECT MAX(time) AS t FROM memory').get() as { t: number | null }).t ?? Math.floor(Date.now() / 1000);
    await updateRollups(db, opts.rollupNow ?? last + 3 * 86400);
    return {
      dir,
      path,
      db,
      collectedAt: last,
      nodes: names,
      async close() {
        db.close();
        rmSync(dir, { recursive: true, force: true });
      },
    };
  } catch (e) {
    await closeResources().catch(() => {});
    await fleet?.close().catch(() => {});
    rmSync(dir, { recursive: true, force: true });
    throw e;
  } finally {
    for (const k of Object.keys(process.env)) if (!(k in saved)) delete process.env[k];
    Object.assign(process.env, saved);
  }
}
