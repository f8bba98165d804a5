/**
 * Readings of the edge-AI half of a node (issue 18): the Tegra GPU, the power rails and RAPL
 * domains, CPU clocks and throttling. Units live in the names; absent is `undefined`, never 0.
 */

/** One Jetson (Tegra) integrated GPU, found among `/sys/class/devfreq/*` (parse/tegraGpu.ts). */
export interface TegraGpuReading {
  /** The devfreq device's name: `57000000.gpu` (Nano), `17000000.gp10b` (TX2), `17000000.gv11b` (Xavier), `17000000.ga10b` (Orin). */
  device: string;
  /** Busy share of the last sampling window, percent (the kernel's `load` file is per mille). */
  loadPercent?: number;
  /** devfreq `cur_freq`, `min_freq`, `max_freq` (the kernel reports Hz). */
  curFreqHertz?: number;
  minFreqHertz?: number;
  maxFreqHertz?: number;
  /** devfreq `governor` (`nvhost_podgov`, `performance`, …). */
  governor?: string;
  /** The memory controller's (EMC) clock, Hz, where readable (debugfs needs root; a devfreq EMC device does not). */
  emcFreqHertz?: number;
  /** nvpmodel's power mode: its NAME in /etc/nvpmodel.conf (`MAXN`, `15W`), and its ID. */
  powerMode?: string;
  powerModeId?: number;
}

/** One power rail of a board monitor (INA3221) or one RAPL domain. */
export interface PowerRail {
  /** The rail's label (`VDD_IN`, `POM_5V_GPU`) or RAPL domain (`package-0`, `package-0/core`, `psys`). */
  rail: string;
  /** `ina3221` (hwmon or the older iio layout) or `rapl` (powercap). */
  source: 'ina3221' | 'rapl';
  /** Where it was read: `hwmon1/in1`, `iio:device0/0`, `intel-rapl:0:0`. */
  sensor: string;
  /** Bus voltage, volts (the kernel reports mV). */
  volts?: number;
  /** Current, amperes (the kernel reports mA). */
  amperes?: number;
  /** Power, watts: V × A, iio's in_power (mW), or a RAPL counter's rate between two rounds (none on the first). */
  watts?: number;
  /** RAPL only: the energy counter, joules (energy_uj / 10^6), as node_exporter's node_rapl_*_joules_total. */
  joulesTotal?: number;
}

/** What the board draws: its rails and one total. */
export interface PowerSample {
  rails: PowerRail[];
  /**
   * The node's total, watts: the board's input rail where it has one (`VDD_IN`, `POM_5V_IN`),
   * else the sum of its INA3221 rails; on x86 RAPL's `psys` where present, else the sum of its
   * top-level (package) domains. Undefined when no rail gave watts.
   */
  totalWatts?: number;
  /** Which rail(s) the total is: a rail's name, or `sum`. */
  totalOf?: string;
}

/** One RAPL powercap zone's raw counter (kept between rounds for the rate). */
export interface RaplCounter {
  /** `intel-rapl:0`, `intel-rapl:0:0`. */
  zone: string;
  /** The domain: `package-0`, or `package-0/core` for a subzone. */
  rail: string;
  energyMicrojoules: number;
  /** Where the counter wraps; undefined if the kernel did not say. */
  maxEnergyRangeMicrojoules?: number;
}

/** One CPU's cpufreq scaling frequency (node_exporter's node_cpu_scaling_frequency_*). */
export interface CpuFrequency {
  /** `0`, `1`, … */
  cpu: string;
  /** scaling_cur_freq, Hz (the kernel reports kHz). */
  curHertz?: number;
  minHertz?: number;
  maxHertz?: number;
}

/** One CPU's thermal throttle counters (x86 `thermal_throttle/`). */
export interface CpuThrottle {
  cpu: string;
  /** topology physical_package_id and core_id. */
  package?: string;
  core?: string;
  /** Times this core was throttled since boot. */
  coreThrottles?: number;
  /** Times its package was throttled since boot (every CPU of a package shows the same). */
  packageThrottles?: number;
  /** Core throttles since the previous round; undefined on the first round or after a reset. */
  coreThrottlesNew?: number;
}

/**
 * The Raspberry Pi firmware's `get_throttled` word: bits 0–3 now (under-voltage, ARM frequency
 * capped, throttled, soft temperature limit), bits 16–19 the same since boot.
 */
export interface RpiThrottled {
  flags: number;
  /** `sysfs` (soc:firmware/get_throttled) or `vcgencmd`. */
  source: 'sysfs' | 'vcgencmd';
}

export const RPI_THROTTLE_BITS = {
  underVoltage: 0,
  armFreqCapped: 1,
  throttled: 2,
  softTempLimit: 3,
} as const;
/** Bit of the "since boot" copy of each flag. */
export const RPI_OCCURRED_SHIFT = 16;

/** Clocks and throttling of one node. */
export interface ClocksSample {
  frequencies: CpuFrequency[];
  throttles: CpuThrottle[];
  rpiThrottled?: RpiThrottled;
}
