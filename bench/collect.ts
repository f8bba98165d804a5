/**
 * bench:collect — a full collection round (every kind, parsing and storing included) over
 * a fleet of real sshd nodes on loopback, at N = 10 and N = 50, against the old approach
 * (five ansible-playbook runs per round, bench/ansibleBaseline.ts) on the same fleet in the
 * same run. Prints medians; the last line is the N = 50 ratio.
 *
 *   npm run bench:collect                      # 20 rounds per size, 2 Ansible rounds per size
 *   BENCH_ROUNDS=50 BENCH_ANSIBLE_ROUNDS=3 npm run bench:collect
 *   BENCH_SIZES=10 BENCH_ANSIBLE_ROUNDS=0 npm run bench:collect   # edgefleet only, quick
 *
 * Each size also runs the same rounds with the five kinds edgefleet had before issue 18
 * (BENCH_ANCHOR_KINDS; empty to skip), interleaved with the all-kinds rounds, as the anchor
 * for what the newer kinds (diskio, inodes, pressure, nvidia, link state) cost on this machine;
 * and all kinds with a command of its own per probe (collect.shellSession=false, as before the
 * long-lived shell; BENCH_PER_COMMAND=0 to skip). The last line carries the load average.
 */
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { lambdaContext } from '../cli/lambdaContext.js';
import type { CollectionSummary } from '../shared/collect/collection.js';
import { closeResources } from '../shared/handler/resources.js';
import { startFleet, type Fleet } from '../test/harness/sshFleet.js';
import { ansibleRound } from './ansibleBaseline.js';

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 20);
const ANSIBLE_ROUNDS = Number(process.env.BENCH_ANSIBLE_ROUNDS ?? 2);
const SIZES = (process.env.BENCH_SIZES ?? '10,50').split(',').map(Number);
const ANCHOR_KINDS = process.env.BENCH_ANCHOR_KINDS ?? 'temperature,cpu,memory,storage,network';
const PER_COMMAND = process.env.BENCH_PER_COMMAND !== '0';

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};
const f3 = (x: number) => x.toFixed(3);

async function benchSize(n: number): Promise<{ edgefleetSeconds: number; ansibleSeconds?: number; anchorSeconds?: number; nodeCpuMs: number; anchorNodeCpuMs?: number; commandSeconds?: number; commandNodeCpuMs?: number }> {
  const dir = mkdtempSync(join(tmpdir(), `edgefleet-bench-${n}-`));
  chmodSync(dir, 0o755);
  const fleet: Fleet = await startFleet({ count: n, hostPrefix: '127.0.1.' });
  try {
    const inventory = join(dir, 'hosts.ini');
    writeFileSync(
      inventory,
      '[edge]\n' + fleet.nodes.map((x) => `${x.name} ansible_host=${x.host} ansible_port=${x.port} ansible_user=${x.user} ansible_ssh_private_key_file=${x.privateKeyFile}`).join('\n') + '\n',
    );
    Object.assign(process.env, {
      EDGEFLEET_INVENTORY: inventory,
      EDGEFLEET_DB: join(dir, 'edgefleet.db'),
      EDGEFLEET_SSH_KNOWN_HOSTS_FILE: fleet.knownHostsFile,
      EDGEFLEET_LOG_LEVEL: 'warn',
    });
    const { handler } = await import('../functions/collectAll.js');
    const round = async () => (await handler({}, lambdaContext('collectAll') as never)) as CollectionSummary;

    // Warm-up: connections opened, counters seeded, as on a running hub.
    for (let i = 0; i < 2; i++) {
      const s = await round();
      if (s.ok !== n) throw new Error(`warm-up: ${s.failed} of ${n} nodes failed: ${JSON.stringify(s.perNode.find((r) => r.status !== 'up'))}`);
    }
    const wall: number[] = [];
    const hubCpu: number[] = [];
    const anchorWall: number[] = [];
    let nodeCpuSeconds = 0;
    let anchorNodeCpuSeconds = 0;
    let rows = 0;
    let anchorRows = 0;
    const commandWall: number[] = [];
    let commandNodeCpuSeconds = 0;
    const allKinds = process.env.EDGEFLEET_COLLECT_KINDS;
    for (let i = 0; i < ROUNDS; i++) {
      if (PER_COMMAND) {
        process.env.EDGEFLEET_COLLECT_SHELL_SESSION = 'false';
        const c0 = fleet.nodeCpuSeconds();
        const t0 = performance.now();
        const s = await round();
        commandWall.push((performance.now() - t0) / 1000);
        commandNodeCpuSeconds += fleet.nodeCpuSeconds() - c0;
        delete process.env.EDGEFLEET_COLLECT_SHELL_SESSION;
        if (s.ok !== n) throw new Error(`per-command round ${i}: ${s.failed} nodes failed`);
      }
      // The anchor round first, then the all-kinds round: the machine's load hits both alike.
      if (ANCHOR_KINDS) {
        process.env.EDGEFLEET_COLLECT_KINDS = ANCHOR_KINDS;
        const c0 = fleet.nodeCpuSeconds();
        const t0 = performance.now();
        const s = await round();
        anchorWall.push((performance.now() - t0) / 1000);
        anchorNodeCpuSeconds += fleet.nodeCpuSeconds() - c0;
        if (s.ok !== n) throw new Error(`anchor round ${i}: ${s.failed} nodes failed`);
        anchorRows = s.rows;
        if (allKinds === undefined) delete process.env.EDGEFLEET_COLLECT_KINDS;
        else process.env.EDGEFLEET_COLLECT_KINDS = allKinds;
      }
      const c0 = fleet.nodeCpuSeconds();
      const cpu0 = process.cpuUsage();
      const t0 = performance.now();
      const s = await round();
      wall.push((performance.now() - t0) / 1000);
      const cpu = process.cpuUsage(cpu0);
      hubCpu.push((cpu.user + cpu.system) / 1e6);
      nodeCpuSeconds += fleet.nodeCpuSeconds() - c0;
      if (s.ok !== n) throw new Error(`round ${i}: ${s.failed} nodes failed`);
      rows = s.rows;
    }
    const nodeCpuPerNodeMs = (nodeCpuSeconds / ROUNDS / n) * 1000;
    const anchorNodeCpuMs = (anchorNodeCpuSeconds / ROUNDS / n) * 1000;
    const edgefleetSeconds = median(wall);
    console.log(
      `edgefleet N=${n}: round median ${f3(edgefleetSeconds)} s (min ${f3(Math.min(...wall))}, max ${f3(Math.max(...wall))}, ${ROUNDS} rounds, ${rows} rows each); ` +
        `hub CPU ${f3(median(hubCpu))} s/round; node CPU ${nodeCpuPerNodeMs.toFixed(2)} ms/node/round`,
    );
    const anchorSeconds = ANCHOR_KINDS ? median(anchorWall) : undefined;
    if (anchorSeconds !== undefined) {
      console.log(`anchor    N=${n} (${ANCHOR_KINDS}): round median ${f3(anchorSeconds)} s, ${anchorRows} rows; node CPU ${anchorNodeCpuMs.toFixed(2)} ms/node/round; all kinds / anchor: round ${(edgefleetSeconds / anchorSeconds).toFixed(2)}x, node CPU ${(nodeCpuPerNodeMs / anchorNodeCpuMs).toFixed(2)}x`);
    }
    const commandSeconds = PER_COMMAND ? median(commandWall) : undefined;
    const commandNodeCpuMs = (commandNodeCpuSeconds / ROUNDS / n) * 1000;
    if (commandSeconds !== undefined) {
      console.log(`command   N=${n} (all kinds, collect.shellSession=false): round median ${f3(commandSeconds)} s; node CPU ${commandNodeCpuMs.toFixed(2)} ms/node/round; long-lived shell / command: round ${(edgefleetSeconds / commandSeconds).toFixed(2)}x, node CPU ${(nodeCpuPerNodeMs / commandNodeCpuMs).toFixed(2)}x`);
    }
    await closeResources();

    const ours = {
      edgefleetSeconds,
      nodeCpuMs: nodeCpuPerNodeMs,
      ...(anchorSeconds === undefined ? {} : { anchorSeconds, anchorNodeCpuMs }),
      ...(commandSeconds === undefined ? {} : { commandSeconds, commandNodeCpuMs }),
    };
    if (ANSIBLE_ROUNDS <= 0) return ours;
    const workDir = join(dir, 'ansible');
    const aWall: number[] = [];
    const aCpu: number[] = [];
    const aNodeBefore = fleet.nodeCpuSeconds();
    for (let i = 0; i < ANSIBLE_ROUNDS; i++) {
      const r = await ansibleRound(fleet, { workDir });
      aWall.push(r.wallSeconds);
      aCpu.push(r.controllerCpuSeconds);
    }
    const aNodeMs = ((fleet.nodeCpuSeconds() - aNodeBefore) / ANSIBLE_ROUNDS / n) * 1000;
    const ansibleSeconds = median(aWall);
    console.log(`ansible   N=${n}: round median ${f3(ansibleSeconds)} s (${ANSIBLE_ROUNDS} rounds, five playbooks each); controller CPU ${f3(median(aCpu))} s/round; node CPU ${aNodeMs.toFixed(1)} ms/node/round`);
    console.log(`ratio     N=${n}: ${(ansibleSeconds / edgefleetSeconds).toFixed(0)}x`);
    return { ...ours, ansibleSeconds };
  } finally {
    await closeResources();
    await fleet.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

const load0 = loadavg()[0]!;
const results = new Map<number, Awaited<ReturnType<typeof benchSize>>>();
for (const n of SIZES) results.set(n, await benchSize(n));
const last = SIZES.at(-1)!;
const r = results.get(last)!;
console.log(
  `bench:collect N=${last} edgefleet=${f3(r.edgefleetSeconds)}s ansible=${r.ansibleSeconds === undefined ? 'skipped' : `${r.ansibleSeconds.toFixed(1)}s`} ratio=${r.ansibleSeconds === undefined ? '-' : `${(r.ansibleSeconds / r.edgefleetSeconds).toFixed(0)}x`}` +
    ` node_cpu=${r.nodeCpuMs.toFixed(2)}ms` +
    (r.anchorSeconds === undefined ? '' : ` anchor_five_kinds=${f3(r.anchorSeconds)}s anchor_node_cpu=${r.anchorNodeCpuMs!.toFixed(2)}ms`) +
    (r.commandSeconds === undefined ? '' : ` per_command=${f3(r.commandSeconds)}s per_command_node_cpu=${r.commandNodeCpuMs!.toFixed(2)}ms`) +
    ` load1=${load0.toFixed(2)}..${loadavg()[0]!.toFixed(2)}`,
);
