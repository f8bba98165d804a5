import { mkdirSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/**
 * A synthetic node's /proc and /sys (edgefleet_proc_root / edgefleet_sys_root) whose counters
 * move on with each set(): CPU ticks, interface counters, memory, load, temperatures. Every
 * file is replaced by a rename, so a probe reading meanwhile sees the old file or the new one,
 * never half of one. No /proc/uptime: rates then use the hub's clock, the timestamps the
 * samples carry.
 */
export interface FakeNodeState {
  /** Per core, cumulative ticks (USER_HZ) of user, nice, system, idle, iowait, irq, softirq, steal. */
  cpuTicks: number[][];
  bootTimeUnixSeconds: number;
  load: [number, number, number];
  memKb: { MemTotal: number; MemFree: number; MemAvailable: number; Buffers: number; Cached: number; SwapTotal: number; SwapFree: number };
  /** Per interface: rx bytes, packets, errs, drop, tx bytes, packets, errs, drop. */
  net: Record<string, number[]>;
  /** thermal_zoneN type → millidegrees; hwmon chips as name → [label, millidegrees][]. */
  zones: [string, number][];
  hwmon: [string, [string, number][]][];
}

export class FakeNode {
  constructor(readonly root: string) {
    mkdirSync(join(root, 'proc', 'net'), { recursive: true });
    mkdirSync(join(root, 'sys', 'class', 'thermal'), { recursive: true });
    mkdirSync(join(root, 'sys', 'class', 'hwmon'), { recursive: true });
  }

  get procRoot(): string {
    return join(this.root, 'proc');
  }
  get sysRoot(): string {
    return join(this.root, 'sys');
  }

  set(s: FakeNodeState): void {
    const sum = s.cpuTicks[0]!.map((_, m) => s.cpuTicks.reduce((t, core) => t + core[m]!, 0));
    const cpuLine = (name: string, t: number[]) => `${name} ${t.join(' ')} 0 0`;
    this.#write('proc/stat', [cpuLine('cpu ', sum), ...s.cpuTicks.map((t, i) => cpuLine(`cpu${i}`, t)), 'intr 0', 'ctxt 0', `btime ${s.bootTimeUnixSeconds}`, 'processes 1', 'procs_running 1', 'procs_blocked 0'].join('\n') + '\n');
    this.#write('proc/loadavg', `${s.load.map((l) => l.toFixed(2)).join(' ')} 1/100 4242\n`);
    this.#write('proc/meminfo', Object.entries(s.memKb).map(([k, v]) => `${`${k}:`.padEnd(16)}${String(v).padStart(8)} kB`).join('\n') + '\n');
    const header = 'Inter-|   Receive                                                |  Transmit\n face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls carrier compressed\n';
    this.#write(
      'proc/net/dev',
      header + Object.entries(s.net).map(([iface, c]) => `${iface.padStart(6)}: ${c.slice(0, 4).join(' ')} 0 0 0 0 ${c.slice(4).join(' ')} 0 0 0 0`).join('\n') + '\n',
    );
    s.zones.forEach(([type, milli], i) => {
      mkdirSync(join(this.root, 'sys/class/thermal', `thermal_zone${i}`), { recursive: true });
      this.#write(`sys/class/thermal/thermal_zone${i}/type`, `${type}\n`);
      this.#write(`sys/class/thermal/thermal_zone${i}/temp`, `${milli}\n`);
    });
    s.hwmon.forEach(([name, sensors], i) => {
      mkdirSync(join(this.root, 'sys/class/hwmon', `hwmon${i}`), { recursive: true });
      this.#write(`sys/class/hwmon/hwmon${i}/name`, `${name}\n`);
      sensors.forEach(([label, milli], j) => {
        this.#write(`sys/class/hwmon/hwmon${i}/temp${j + 1}_label`, `${label}\n`);
        this.#write(`sys/class/hwmon/hwmon${i}/temp${j + 1}_input`, `${milli}\n`);
      });
    });
  }

  #write(rel: string, text: string): void {
    const path = join(this.root, rel);
    writeFileSync(path + '.tmp', text);
    renameSync(path + '.tmp', path);
  }
}

/** Round k of a node whose counters advance at its own pace (`seed` varies the pace per node). */
export function fakeState(seed: number, k: number): FakeNodeState {
  const cores = 2 + (seed % 3);
  const cpuTicks = Array.from({ length: cores }, (_, c) => {
    // Each round, 100 ticks (1 s) per core split among the modes; the idle share changes with the node and round.
    const ticks = [1000 + seed, 10, 500, 100_000, 50, 5, 20, 0];
    for (let r = 1; r <= k; r++) {
      const idle = 40 + ((seed * 13 + c * 7 + r * 5) % 50);
      [100 - idle - 10, 1, 6, idle, 2, 0, 1, 0].forEach((step, m) => (ticks[m]! += step));
    }
    return ticks;
  });
  const memTotal = 4_000_000 + seed * 1_000_000;
  const avail = Math.round(memTotal * (0.3 + 0.05 * ((seed + k) % 7)));
  return {
    cpuTicks,
    bootTimeUnixSeconds: 1_790_000_000 + seed,
    load: [0.5 + ((seed + k) % 5) * 0.25, 0.4 + seed * 0.1, 0.3],
    memKb: { MemTotal: memTotal, MemFree: Math.round(avail / 3), MemAvailable: avail, Buffers: 20_000 + k, Cached: Math.round(avail / 2), SwapTotal: 1_000_000, SwapFree: 900_000 - k * 10 },
    net: {
      eth0: [1e9 + k * k * 50_000 * (seed + 1) + k * 7_000, 1e6 + k * 400, seed, k, 5e8 + k * 30_000 * (seed + 1), 5e5 + k * 300, 0, 0],
      wlan0: [2e6 + k * 1_000, 2e3 + k * 10, 0, 0, 1e6 + k * 500, 1e3 + k * 5, 0, 0],
    },
    zones: [['cpu-thermal', 45_000 + seed * 1000 + k * 100]],
    hwmon: [['coretemp', [['Package id 0', 50_000 + k * 50], ['Core 0', 48_000 + seed * 10]]]],
  };
}

/**
 * A fleet of fake nodes under `dir`, each at round 0 and reached with `ansible_connection=local`,
 * and the inventory naming them (`dir`/hosts.ini: the hosts, then one section per group).
 */
export function fakeFleet(dir: string, nodes: readonly { name: string; groups: readonly string[] }[]): { fakes: FakeNode[]; inventory: string } {
  const fakes = nodes.map((n) => new FakeNode(join(dir, n.name)));
  fakes.forEach((f, i) => f.set(fakeState(i, 0)));
  const lines = nodes.map((n, i) => `${n.name} ansible_connection=local edgefleet_proc_root=${fakes[i]!.procRoot} edgefleet_sys_root=${fakes[i]!.sysRoot}`);
  for (const g of [...new Set(nodes.flatMap((n) => n.groups))].sort()) lines.push(`[${g}]`, ...nodes.filter((n) => n.groups.includes(g)).map((n) => n.name));
  const inventory = join(dir, 'hosts.ini');
  writeFileSync(inventory, lines.join('\n') + '\n');
  return { fakes, inventory };
}

/** Moves every fake on by a round each `everyMs` (out of step with the hub's rounds, each file swapped whole); clearInterval stops it. */
export function tickFleet(fakes: readonly FakeNode[], everyMs: number): NodeJS.Timeout {
  let k = 0;
  return setInterval(() => {
    k++;
    fakes.forEach((f, i) => f.set(fakeState(i, k)));
  }, everyMs);
}
