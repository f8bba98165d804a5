import type { NodeSpec } from '../shared/domain/index.js';
import type { NodeReadings } from '../shared/store/index.js';

/**
 * A synthetic fleet's rounds, shaped like the machines in test/fixtures/machines: Raspberry Pi 4s
 * (4 cores, 1 thermal zone, SD card, eth0 + wlan0), Jetson Orins (6 cores, 6 zones + NVMe hwmon,
 * 2 mounts, eth0 + l4tbr0 + usb0) and x86 boxes (8 cores, package + core sensors, 2 mounts,
 * eth0 + docker0). Values wander smoothly so rollups and the dashboards have something to show.
 */
export type Shape = 'pi' | 'jetson' | 'x86';

const SHAPES: Record<Shape, { cores: number; sensors: [string, string][]; mounts: [string, string, string][]; ifaces: string[]; memBytes: number }> = {
  pi: { cores: 4, sensors: [['thermal_zone0', 'cpu-thermal']], mounts: [['/', '/dev/mmcblk0p2', 'ext4']], ifaces: ['eth0', 'wlan0'], memBytes: 4 * 2 ** 30 },
  jetson: {
    cores: 6,
    sensors: [['thermal_zone0', 'CPU-therm'], ['thermal_zone1', 'GPU-therm'], ['thermal_zone2', 'SOC0-therm'], ['thermal_zone3', 'SOC1-therm'], ['thermal_zone4', 'SOC2-therm'], ['thermal_zone5', 'tj-therm'], ['hwmon2/temp1', 'nvme/Composite']],
    mounts: [['/', '/dev/nvme0n1p1', 'ext4'], ['/boot/efi', '/dev/nvme0n1p10', 'vfat']],
    ifaces: ['eth0', 'l4tbr0', 'usb0'],
    memBytes: 8 * 2 ** 30,
  },
  x86: {
    cores: 8,
    sensors: [['thermal_zone0', 'x86_pkg_temp'], ['hwmon1/temp1', 'coretemp/Package id 0'], ['hwmon1/temp2', 'coretemp/Core 0'], ['hwmon1/temp3', 'coretemp/Core 1']],
    mounts: [['/', '/dev/sda2', 'ext4'], ['/data', '/dev/sdb1', 'xfs']],
    ifaces: ['eth0', 'docker0'],
    memBytes: 32 * 2 ** 30,
  },
};

export function fleetSpecs(n: number): { spec: NodeSpec; shape: Shape }[] {
  const shapes: Shape[] = ['pi', 'jetson', 'x86'];
  return Array.from({ length: n }, (_, i) => {
    const shape = shapes[i % 3]!;
    const name = `${shape}-${String(i + 1).padStart(3, '0')}`;
    return { shape, spec: { name, groups: [`${shape}s`, i < n / 2 ? 'lab-a' : 'lab-b'], vars: {}, connection: 'ssh', host: `10.0.${i >> 8}.${i & 255}`, port: 22 } };
  });
}

/** One node's readings at `time` (round number `k`), as the collectors would produce them. */
export function nodeReadings(name: string, shape: Shape, index: number, k: number, time: number): NodeReadings {
  const s = SHAPES[shape];
  const wave = (period: number, phase = 0) => Math.sin((2 * Math.PI * (k + index * 37 + phase)) / period);
  const busy = 35 + 25 * wave(360) + 5 * wave(17, index);
  const cpus = ['all', ...Array.from({ length: s.cores }, (_, c) => String(c))].map((cpu, c) => {
    const usage = Math.min(99, Math.max(1, busy + (c ? 8 * wave(23, c) : 0)));
    const iowait = 0.5 + 0.4 * wave(41, c);
    const system = usage * 0.2;
    return {
      cpu,
      usagePercent: usage,
      userPercent: usage - system,
      nicePercent: 0,
      systemPercent: system,
      iowaitPercent: iowait,
      irqPercent: 0.1,
      softirqPercent: 0.3,
      stealPercent: 0,
      idlePercent: 100 - usage - iowait,
      intervalSeconds: 10,
    };
  });
  const used = s.memBytes * (0.4 + 0.15 * wave(8640));
  const counters = s.ifaces.map((iface, j) => ({
    iface,
    rxBytes: 1e9 + k * (120_000 + j * 1000),
    rxPackets: 1e6 + k * 100,
    rxErrors: 0,
    rxDrops: k >> 12,
    txBytes: 5e8 + k * (40_000 + j * 500),
    txPackets: 5e5 + k * 60,
    txErrors: 0,
    txDrops: 0,
  }));
  return {
    node: name,
    timeUnixSeconds: time,
    temperature: s.sensors.map(([sensor, type], j) => ({ source: sensor.startsWith('hwmon') ? 'hwmon' : 'thermal_zone', sensor, type, celsius: Math.round((45 + 0.2 * busy + 2 * j + wave(97, j)) * 1000) / 1000 })),
    cpu: cpus,
    load: { load1: busy / 25, load5: busy / 27, load15: busy / 30 },
    memory: {
      memTotalBytes: s.memBytes,
      memFreeBytes: Math.round((s.memBytes - used) * 0.3),
      memAvailableBytes: Math.round(s.memBytes - used),
      buffersBytes: 50 * 2 ** 20,
      cachedBytes: Math.round((s.memBytes - used) * 0.6),
      swapTotalBytes: 2 * 2 ** 30,
      swapFreeBytes: 2 * 2 ** 30 - (k % 1000) * 4096,
      usedPercent: (used / s.memBytes) * 100,
    },
    storage: s.mounts.map(([mountPoint, device, fsType], j) => {
      const total = (j ? 500 : 120) * 2 ** 30;
      const usedBytes = Math.round(total * (0.3 + j * 0.2) + k * 4096);
      const availableBytes = Math.round(total * 0.95) - usedBytes;
      return { device, mountPoint, fsType, totalBytes: total, usedBytes, availableBytes, usedPercent: (usedBytes / (usedBytes + availableBytes)) * 100 };
    }),
    network: {
      counters,
      rates: new Map(
        counters.map((c, j) => [
          c.iface,
          {
            iface: c.iface,
            rxBytesPerSecond: (120_000 + j * 1000) / 10 * (1 + 0.5 * wave(60, j)),
            txBytesPerSecond: (40_000 + j * 500) / 10 * (1 + 0.5 * wave(90, j)),
            rxPacketsPerSecond: 10,
            txPacketsPerSecond: 6,
            rxErrorsPerSecond: 0,
            txErrorsPerSecond: 0,
            rxDropsPerSecond: 0,
            txDropsPerSecond: 0,
            intervalSeconds: 10,
          },
        ]),
      ),
    },
  };
}

/** Numeric values one node-round stores (what "bytes per sample" divides by). */
export function valuesIn(r: NodeReadings): number {
  return (
    (r.temperature?.length ?? 0) * 1 +
    (r.cpu?.length ?? 0) * 10 +
    (r.load ? 3 : 0) +
    (r.memory ? 8 : 0) +
    (r.storage?.length ?? 0) * 4 +
    (r.network?.counters.length ?? 0) * 16
  );
}
