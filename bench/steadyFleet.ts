import type { NodeReadings } from '../shared/store/index.js';

/**
 * A steady synthetic fleet, for counting the detector's false alarms (bench/fleetEval.ts): every
 * series behaves as a healthy machine's does — a daily cycle of load with minute-to-minute noise
 * (AR(1), so it wanders like real load), temperatures following load plus ambient drift, memory
 * with a daily swing, disks filling slowly, network rates with a daily cycle and bursty
 * (log-normal) noise. Nothing breaks; every alarm on it is a false one. Deterministic per seed.
 */

/** mulberry32: a small seeded PRNG (uniform in [0, 1)). */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Standard normal from a uniform source (Box–Muller). */
export function gaussian(rand: () => number): () => number {
  return () => Math.sqrt(-2 * Math.log(1 - rand())) * Math.cos(2 * Math.PI * rand());
}

const SHAPES = [
  { shape: 'pi', cores: 4, sensors: ['thermal_zone0'], mounts: ['/'], ifaces: ['eth0', 'wlan0'], memBytes: 4 * 2 ** 30, diskBytes: [64 * 2 ** 30] },
  { shape: 'jetson', cores: 6, sensors: ['thermal_zone0', 'thermal_zone1', 'thermal_zone5', 'hwmon2/temp1'], mounts: ['/', '/boot/efi'], ifaces: ['eth0', 'l4tbr0'], memBytes: 8 * 2 ** 30, diskBytes: [500 * 2 ** 30, 2 ** 28] },
  { shape: 'x86', cores: 8, sensors: ['thermal_zone0', 'hwmon1/temp1', 'hwmon1/temp2'], mounts: ['/', '/data'], ifaces: ['eth0', 'docker0'], memBytes: 32 * 2 ** 30, diskBytes: [250 * 2 ** 30, 2 * 2 ** 40] },
] as const;

/** One node of the steady fleet: `next(time)` gives its readings for a round at unix `time` (rounds every `intervalSeconds`). */
export function steadyNode(index: number, intervalSeconds = 10): { name: string; next: (timeUnixSeconds: number) => NodeReadings } {
  const s = SHAPES[index % SHAPES.length]!;
  const name = `${s.shape}-steady-${String(index + 1).padStart(3, '0')}`;
  const rand = prng(1000 + index);
  const n = gaussian(rand);
  const base = 15 + 30 * rand();
  const amp = 5 + 15 * rand();
  const phase = rand() * 86400;
  // AR(1) states: load wander (memory ≈ 10 min), per-core wander, ambient temperature (≈ 1 h), memory (≈ 30 min).
  const phi = (seconds: number) => Math.exp(-intervalSeconds / seconds);
  let wander = 0;
  const coreWander = new Array<number>(s.cores).fill(0);
  let ambient = 0;
  let mem = 0;
  const diskUsed = s.diskBytes.map((b) => b * (0.2 + 0.4 * rand()));
  const counters = s.ifaces.map(() => ({ rx: 1e9 * rand(), tx: 1e9 * rand(), rxp: 1e6, txp: 1e6 }));
  const ar = (x: number, p: number, sigma: number) => p * x + sigma * Math.sqrt(1 - p * p) * n();
  return {
    name,
    next(time) {
      const day = Math.sin((2 * Math.PI * (time + phase)) / 86400);
      wander = ar(wander, phi(600), 6);
      const busy = Math.min(98, Math.max(2, base + amp * day + wander + 2 * n()));
      const cpus = ['all', ...Array.from({ length: s.cores }, (_, c) => String(c))].map((cpu, c) => {
        if (c > 0) coreWander[c - 1] = ar(coreWander[c - 1]!, phi(120), 5);
        const usage = Math.min(100, Math.max(0, c ? busy + coreWander[c - 1]! + 4 * n() : busy));
        const iowait = Math.max(0, 0.4 + 0.3 * n());
        const system = usage * 0.2 + Math.abs(0.5 * n());
        const softirq = Math.max(0, 0.3 + 0.1 * n());
        return {
          cpu,
          usagePercent: usage,
          userPercent: Math.max(0, usage - system - softirq - 0.1),
          nicePercent: 0,
          systemPercent: system,
          iowaitPercent: iowait,
          irqPercent: 0.1,
          softirqPercent: softirq,
          stealPercent: 0,
          idlePercent: Math.max(0, 100 - usage - iowait),
          intervalSeconds,
        };
      });
      ambient = ar(ambient, phi(3600), 1);
      const temperature = s.sensors.map((sensor, j) => ({
        source: sensor.startsWith('hwmon') ? ('hwmon' as const) : ('thermal_zone' as const),
        sensor,
        type: sensor,
        // The kernel reports millidegrees; many sensors step by 0.5–1 °C.
        celsius: Math.round((38 + 3 * j + 0.3 * busy + 1.5 * Math.sin((2 * Math.PI * (time + phase - 14400)) / 86400) + ambient + 0.4 * n()) * 2) / 2,
      }));
      mem = ar(mem, phi(1800), 0.02);
      const usedFraction = Math.min(0.95, Math.max(0.05, 0.45 + 0.08 * day + mem + 0.003 * n()));
      const available = s.memBytes * (1 - usedFraction);
      const storage = s.mounts.map((mountPoint, j) => {
        // Logs and data: ~0–2 MB per round on the data disk, a little on the others.
        diskUsed[j] = diskUsed[j]! + Math.max(0, (j ? 2e5 : 2e4) * (1 + n()));
        const total = s.diskBytes[j]!;
        const availableBytes = Math.round(total * 0.95 - diskUsed[j]!);
        const usedBytes = Math.round(diskUsed[j]!);
        return { device: `/dev/disk${j}`, mountPoint, fsType: 'ext4', totalBytes: total, usedBytes, availableBytes, usedPercent: (usedBytes / (usedBytes + availableBytes)) * 100 };
      });
      const rates = new Map(
        s.ifaces.map((iface, j) => {
          const level = (j ? 2e4 : 2e5) * (1 + 0.6 * day) * Math.exp(0.35 * n());
          const rx = level;
          const tx = level * 0.3 * Math.exp(0.2 * n());
          const c = counters[j]!;
          c.rx += rx * intervalSeconds;
          c.tx += tx * intervalSeconds;
          c.rxp += (rx / 800) * intervalSeconds;
          c.txp += (tx / 400) * intervalSeconds;
          return [iface, { iface, rxBytesPerSecond: rx, txBytesPerSecond: tx, rxPacketsPerSecond: rx / 800, txPacketsPerSecond: tx / 400, rxErrorsPerSecond: 0, txErrorsPerSecond: 0, rxDropsPerSecond: 0, txDropsPerSecond: 0, intervalSeconds }];
        }),
      );
      return {
        node: name,
        timeUnixSeconds: time,
        temperature,
        cpu: cpus,
        load: { load1: (s.cores * busy) / 100 + 0.1 * Math.abs(n()), load5: (s.cores * (base + amp * day)) / 100, load15: (s.cores * (base + amp * day)) / 100 },
        memory: {
          memTotalBytes: s.memBytes,
          memFreeBytes: Math.round(available * 0.3),
          memAvailableBytes: Math.round(available),
          buffersBytes: Math.round(s.memBytes * 0.01),
          cachedBytes: Math.round(available * 0.6),
          swapTotalBytes: 2 * 2 ** 30,
          swapFreeBytes: 2 * 2 ** 30 - 2 ** 24,
          usedPercent: usedFraction * 100,
        },
        storage,
        network: {
          counters: s.ifaces.map((iface, j) => ({ iface, rxBytes: counters[j]!.rx, rxPackets: counters[j]!.rxp, rxErrors: 0, rxDrops: 0, txBytes: counters[j]!.tx, txPackets: counters[j]!.txp, txErrors: 0, txDrops: 0 })),
          rates,
        },
      };
    },
  };
}
