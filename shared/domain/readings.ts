/**
 * Readings: what the parsers make of a node's kernel files. Units live in the names.
 * Optional fields are `undefined` when the kernel did not report them, never 0.
 */

/** One temperature sensor: a thermal zone or an hwmon temp*_input. */
export interface TemperatureReading {
  /** `thermal_zone` or `hwmon`. */
  source: 'thermal_zone' | 'hwmon';
  /** Stable sensor id on the node: `thermal_zone0`, `hwmon1/temp2`. */
  sensor: string;
  /** thermal zone `type` (e.g. `cpu-thermal`, `CPU-therm`), or hwmon `name` + label. */
  type: string;
  /** Degrees Celsius (the kernel reports millidegree Celsius). */
  celsius: number;
}

/** Raw /proc/stat counters of one CPU line, converted from USER_HZ ticks to seconds. */
export interface CpuTimes {
  /** `all` for the aggregate `cpu` line, else the core index (`0`, `1`, ...). */
  cpu: string;
  userSeconds: number;
  niceSeconds: number;
  systemSeconds: number;
  idleSeconds: number;
  iowaitSeconds: number;
  irqSeconds: number;
  softirqSeconds: number;
  stealSeconds: number;
  /** Guest time is already included in user/nice by the kernel. */
  guestSeconds: number;
  guestNiceSeconds: number;
}

/** /proc/stat plus /proc/loadavg. */
export interface CpuSample {
  /** Boot time (btime), unix seconds: a change means the counters restarted. */
  bootTimeUnixSeconds?: number;
  cpus: CpuTimes[];
  load1?: number;
  load5?: number;
  load15?: number;
}

/** CPU usage over an interval, from two CpuSamples. Percent of that CPU's time, 0..100. */
export interface CpuUsage {
  cpu: string;
  userPercent: number;
  /** nice time, counted apart from user like node_exporter's mode="nice". */
  nicePercent: number;
  systemPercent: number;
  iowaitPercent: number;
  irqPercent: number;
  softirqPercent: number;
  stealPercent: number;
  idlePercent: number;
  /** 100 − idle − iowait. */
  usagePercent: number;
  intervalSeconds: number;
}

/** /proc/meminfo, kB converted to bytes. */
export interface MemorySample {
  memTotalBytes: number;
  memFreeBytes: number;
  /** Absent on kernels before 3.14. */
  memAvailableBytes?: number;
  buffersBytes?: number;
  cachedBytes?: number;
  swapTotalBytes?: number;
  swapFreeBytes?: number;
  /** (total − available) / total, or with no MemAvailable (total − free − buffers − cached) / total. */
  usedPercent: number;
}

/** One real mount, from `df -Pk` joined with /proc/self/mounts. */
export interface StorageSample {
  device: string;
  mountPoint: string;
  fsType: string;
  totalBytes: number;
  usedBytes: number;
  availableBytes: number;
  /** used / (used + available), as df computes Capacity. */
  usedPercent: number;
}

/** Raw /proc/net/dev counters of one interface. */
export interface NetDevCounters {
  iface: string;
  rxBytes: number;
  rxPackets: number;
  rxErrors: number;
  rxDrops: number;
  txBytes: number;
  txPackets: number;
  txErrors: number;
  txDrops: number;
}

/** Per-second rates between two NetDevCounters samples. */
export interface NetRates {
  iface: string;
  rxBytesPerSecond: number;
  txBytesPerSecond: number;
  rxPacketsPerSecond: number;
  txPacketsPerSecond: number;
  rxErrorsPerSecond: number;
  txErrorsPerSecond: number;
  rxDropsPerSecond: number;
  txDropsPerSecond: number;
  intervalSeconds: number;
}

/** The five metric kinds, each one probe + one parser + one table family + one handler. */
export const METRIC_KINDS = ['temperature', 'cpu', 'memory', 'storage', 'network'] as const;
export type MetricKind = (typeof METRIC_KINDS)[number];
