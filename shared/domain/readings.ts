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
  /** NvMapMemUsed: on a Jetson (unified memory), what the GPU's nvmap allocator holds. Absent elsewhere. */
  nvMapMemUsedBytes?: number;
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

/** Raw /proc/diskstats counters of one block device (sectors are always 512 bytes there; ms → seconds). */
export interface DiskStats {
  device: string;
  readsCompleted: number;
  readBytes: number;
  /** Time spent reading (all reads, summed: may exceed wall time). */
  readTimeSeconds: number;
  writesCompleted: number;
  writtenBytes: number;
  writeTimeSeconds: number;
  /** io_ticks: wall time the device had I/O in flight. */
  ioTimeSeconds: number;
}

/** Per-second rates of one device between two DiskStats samples. */
export interface DiskIoRates {
  device: string;
  readBytesPerSecond: number;
  writtenBytesPerSecond: number;
  readsPerSecond: number;
  writesPerSecond: number;
  /** Δ io_ticks / interval × 100: the share of the interval the device was busy (iostat's %util). */
  utilizationPercent: number;
  intervalSeconds: number;
}

/** One line (`some` or `full`) of a /proc/pressure file. avg* are percent of time stalled. */
export interface PressureLine {
  avg10: number;
  avg60: number;
  avg300: number;
  /** `total`: µs stalled since boot, as seconds. */
  totalSeconds: number;
}

/** One /proc/pressure/{cpu,memory,io} file (pressure stall information, Linux ≥ 4.20). */
export interface PressureSample {
  resource: 'cpu' | 'memory' | 'io';
  some: PressureLine;
  /** Absent for cpu before Linux 5.13. */
  full?: PressureLine;
  /** Δ total / interval × 100 since the previous round: percent of that interval stalled. */
  somePercent?: number;
  fullPercent?: number;
}

/** Inodes of one real mount, from `df -Pi` joined with /proc/self/mounts. */
export interface InodesSample {
  device: string;
  mountPoint: string;
  fsType: string;
  files: number;
  filesFree: number;
  /** (files − free) / files × 100. */
  usedPercent: number;
}

/** /sys/class/net/IFACE/{operstate,carrier,speed}. Unreadable or -1 is undefined (unknown), never 0. */
export interface NetLink {
  iface: string;
  /** operstate: up, down, dormant, lowerlayerdown, unknown (loopback and many virtual links). */
  operState?: string;
  /** carrier: 1 link detected, 0 none. Unreadable while the interface is down. */
  carrier?: number;
  /** speed (Mbit/s) × 125000; wifi and virtual links report none or -1. */
  speedBytesPerSecond?: number;
}

/** One NVIDIA GPU from `nvidia-smi --query-gpu`. Fields nvidia-smi prints as [N/A] / [Not Supported] are undefined. */
export interface NvidiaGpu {
  index: number;
  uuid: string;
  name: string;
  utilizationGpuPercent?: number;
  utilizationMemoryPercent?: number;
  /** nvidia-smi prints MiB: × 1048576. */
  memoryUsedBytes?: number;
  memoryTotalBytes?: number;
  temperatureCelsius?: number;
  powerDrawWatts?: number;
  powerLimitWatts?: number;
  smClockMhz?: number;
  memClockMhz?: number;
  /** clocks_throttle_reasons.active, a bitmask (0x…04 = HW slowdown…); 0 = not throttled. */
  throttleReasons?: number;
}

/** The metric kinds, each one probe + one parser + one table family + one handler. */
export const METRIC_KINDS = ['temperature', 'cpu', 'memory', 'storage', 'network', 'diskio', 'inodes', 'pressure', 'nvidia', 'tegraGpu', 'power', 'clocks'] as const;
export type MetricKind = (typeof METRIC_KINDS)[number];
