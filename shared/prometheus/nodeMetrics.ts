import type { NodeSnapshot } from '../store/snapshots.js';
import type { Family } from './exposition.js';

/**
 * A node's stored samples as node_exporter names them (collector/{cpu,loadavg,meminfo,
 * filesystem,netdev,hwmon,thermal_zone,stat,uname}_linux.go): same names, types, units and
 * label names, counters raw. Every sample carries the node's own labels (`instance` = its
 * inventory name, `groups` = `,a,b,`) and the time its probe was read. Scrape (/metrics) and
 * remote write both go through here, so they cannot disagree.
 */

/** Where samples go: the exposition writer, or a remote-write request. */
export interface SampleSink {
  /** `labels`: the family's own, as name, value, name, value… (after the node's). */
  add(f: Family, node: NodeLabels, labels: readonly string[], value: number, timestampMs: number | undefined, suffix?: string): void;
}

/** A node's labels, as pairs and pre-rendered for the text format. */
export interface NodeLabels {
  pairs: readonly string[];
  rendered: string;
}

/**
 * `instance` is the inventory name; `groups` follows Prometheus service discovery's list
 * convention (`__meta_consul_tags`): comma-separated with a comma at each end, so
 * `{groups=~".*,pis,.*"}` selects a group. Empty when the node is in none.
 */
export function nodeLabelPairs(instance: string, groups: readonly string[]): string[] {
  return ['instance', instance, 'groups', groups.length ? `,${groups.join(',')},` : ''];
}

const f = (name: string, type: Family['type'], help: string, unit?: string): Family => ({ name, type, help, unit });

/** node_exporter's modes of node_cpu_seconds_total, with the CpuTimes field of each. */
const CPU_MODES = [
  ['user', 'userSeconds'],
  ['nice', 'niceSeconds'],
  ['system', 'systemSeconds'],
  ['idle', 'idleSeconds'],
  ['iowait', 'iowaitSeconds'],
  ['irq', 'irqSeconds'],
  ['softirq', 'softirqSeconds'],
  ['steal', 'stealSeconds'],
] as const;

const MEMORY = [
  ['MemTotal', 'memTotalBytes'],
  ['MemFree', 'memFreeBytes'],
  ['MemAvailable', 'memAvailableBytes'],
  ['Buffers', 'buffersBytes'],
  ['Cached', 'cachedBytes'],
  ['SwapTotal', 'swapTotalBytes'],
  ['SwapFree', 'swapFreeBytes'],
] as const;

/** node_exporter's node_disk_* counters (collector/diskstats_linux.go), with the DiskStats field of each. */
const DISK = [
  ['reads_completed_total', 'readsCompleted', 'The total number of reads completed successfully.', undefined],
  ['read_bytes_total', 'readBytes', 'The total number of bytes read successfully.', 'bytes'],
  ['read_time_seconds_total', 'readTimeSeconds', 'The total number of seconds spent by all reads.', 'seconds'],
  ['writes_completed_total', 'writesCompleted', 'The total number of writes completed successfully.', undefined],
  ['written_bytes_total', 'writtenBytes', 'The total number of bytes written successfully.', 'bytes'],
  ['write_time_seconds_total', 'writeTimeSeconds', 'This is the total number of seconds spent by all writes.', 'seconds'],
  ['io_time_seconds_total', 'ioTimeSeconds', 'Total seconds spent doing I/Os.', 'seconds'],
] as const;

/**
 * DCGM exporter's names for what nvidia-smi gives (dcgm-exporter default-counters.csv; units as
 * DCGM's: %, MiB, °C, W, MHz), with the NvidiaGpu field and the factor from edgefleet's unit.
 */
const DCGM = [
  ['DCGM_FI_DEV_GPU_UTIL', 'utilizationGpuPercent', 1, 'GPU utilization (in %).'],
  ['DCGM_FI_DEV_MEM_COPY_UTIL', 'utilizationMemoryPercent', 1, 'Memory utilization (in %).'],
  ['DCGM_FI_DEV_FB_USED', 'memoryUsedBytes', 1 / 1048576, 'Framebuffer memory used (in MiB).'],
  ['DCGM_FI_DEV_GPU_TEMP', 'temperatureCelsius', 1, 'GPU temperature (in C).'],
  ['DCGM_FI_DEV_POWER_USAGE', 'powerDrawWatts', 1, 'Power draw (in W).'],
  ['DCGM_FI_DEV_POWER_MGMT_LIMIT', 'powerLimitWatts', 1, 'Power management limit (in W).'],
  ['DCGM_FI_DEV_SM_CLOCK', 'smClockMhz', 1, 'SM clock frequency (in MHz).'],
  ['DCGM_FI_DEV_MEM_CLOCK', 'memClockMhz', 1, 'Memory clock frequency (in MHz).'],
  ['DCGM_FI_DEV_CLOCK_THROTTLE_REASONS', 'throttleReasons', 1, 'Current clock throttle reasons (bitmask of DCGM_CLOCKS_THROTTLE_REASON_*).'],
] as const;
/** RAPL domains node_exporter names (`package-0` → package). */
const RAPL_DOMAINS = ['package', 'core', 'uncore', 'dram', 'psys'] as const;

const NET = [
  ['receive_bytes', 'rxBytes'],
  ['receive_packets', 'rxPackets'],
  ['receive_errs', 'rxErrors'],
  ['receive_drop', 'rxDrops'],
  ['transmit_bytes', 'txBytes'],
  ['transmit_packets', 'txPackets'],
  ['transmit_errs', 'txErrors'],
  ['transmit_drop', 'txDrops'],
] as const;

export const NODE_FAMILIES = {
  cpu: f('node_cpu_seconds_total', 'counter', 'Seconds the CPUs spent in each mode.', 'seconds'),
  cpuGuest: f('node_cpu_guest_seconds_total', 'counter', 'Seconds the CPUs spent in guests (VMs) for each mode.', 'seconds'),
  bootTime: f('node_boot_time_seconds', 'gauge', 'Node boot time, in unixtime.', 'seconds'),
  load1: f('node_load1', 'gauge', '1m load average.'),
  load5: f('node_load5', 'gauge', '5m load average.'),
  load15: f('node_load15', 'gauge', '15m load average.'),
  memory: Object.fromEntries(MEMORY.map(([field]) => [field, f(`node_memory_${field}_bytes`, 'gauge', `Memory information field ${field}_bytes.`, 'bytes')])) as Record<(typeof MEMORY)[number][0], Family>,
  fsSize: f('node_filesystem_size_bytes', 'gauge', 'Filesystem size in bytes.', 'bytes'),
  fsFree: f('node_filesystem_free_bytes', 'gauge', 'Filesystem free space in bytes.', 'bytes'),
  fsAvail: f('node_filesystem_avail_bytes', 'gauge', 'Filesystem space available to non-root users in bytes.', 'bytes'),
  net: Object.fromEntries(NET.map(([stat]) => [stat, f(`node_network_${stat}_total`, 'counter', `Network device statistic ${stat}.`, stat.endsWith('bytes') ? 'bytes' : undefined)])) as Record<
    (typeof NET)[number][0],
    Family
  >,
  nvMapMemUsed: f('node_memory_NvMapMemUsed_bytes', 'gauge', 'Memory information field NvMapMemUsed_bytes.', 'bytes'),
  fsFiles: f('node_filesystem_files', 'gauge', 'Filesystem total file nodes.'),
  fsFilesFree: f('node_filesystem_files_free', 'gauge', 'Filesystem total free file nodes.'),
  netUp: f('node_network_up', 'gauge', "Value is 1 if operstate is 'up', 0 otherwise."),
  netCarrier: f('node_network_carrier', 'gauge', 'Network device property: carrier'),
  netSpeed: f('node_network_speed_bytes', 'gauge', 'Network device property: speed_bytes', 'bytes'),
  disk: Object.fromEntries(DISK.map(([name, , help, unit]) => [name, f(`node_disk_${name}`, 'counter', help, unit)])) as Record<(typeof DISK)[number][0], Family>,
  pressureCpuWaiting: f('node_pressure_cpu_waiting_seconds_total', 'counter', 'Total time in seconds that processes have waited for CPU time', 'seconds'),
  pressureCpuStalled: f('node_pressure_cpu_stalled_seconds_total', 'counter', 'Total time in seconds no process could make progress due to CPU congestion', 'seconds'),
  pressureMemoryWaiting: f('node_pressure_memory_waiting_seconds_total', 'counter', 'Total time in seconds that processes have waited for memory', 'seconds'),
  pressureMemoryStalled: f('node_pressure_memory_stalled_seconds_total', 'counter', 'Total time in seconds no process could make progress due to memory congestion', 'seconds'),
  pressureIoWaiting: f('node_pressure_io_waiting_seconds_total', 'counter', 'Total time in seconds that processes have waited due to IO congestion', 'seconds'),
  pressureIoStalled: f('node_pressure_io_stalled_seconds_total', 'counter', 'Total time in seconds no process could make progress due to IO congestion', 'seconds'),
  dcgm: Object.fromEntries(DCGM.map(([name, , , help]) => [name, f(name, 'gauge', help)])) as Record<(typeof DCGM)[number][0], Family>,
  hwmonTemp: f('node_hwmon_temp_celsius', 'gauge', 'Hardware monitor for temperature (input)', 'celsius'),
  hwmonChipNames: f('node_hwmon_chip_names', 'gauge', 'Annotation metric for human-readable chip names'),
  hwmonSensorLabel: f('node_hwmon_sensor_label', 'gauge', 'Label for given chip and sensor'),
  thermalZone: f('node_thermal_zone_temp', 'gauge', 'Zone temperature in Celsius'),
  // Issue 18, where node_exporter has the name (cpufreq, thermal_throttle, rapl, hwmon collectors).
  cpuFreq: f('node_cpu_scaling_frequency_hertz', 'gauge', 'Current scaled CPU thread frequency in hertz.', 'hertz'),
  cpuFreqMin: f('node_cpu_scaling_frequency_min_hertz', 'gauge', 'Minimum scaled CPU thread frequency in hertz.', 'hertz'),
  cpuFreqMax: f('node_cpu_scaling_frequency_max_hertz', 'gauge', 'Maximum scaled CPU thread frequency in hertz.', 'hertz'),
  coreThrottles: f('node_cpu_core_throttles_total', 'counter', 'Number of times this CPU core has been throttled.'),
  packageThrottles: f('node_cpu_package_throttles_total', 'counter', 'Number of times this CPU package has been throttled.'),
  rapl: Object.fromEntries(RAPL_DOMAINS.map((d) => [d, f(`node_rapl_${d}_joules_total`, 'counter', `Current RAPL ${d} value in joules`, 'joules')])) as Record<(typeof RAPL_DOMAINS)[number], Family>,
  hwmonIn: f('node_hwmon_in_volts', 'gauge', 'Hardware monitor for voltage (input)', 'volts'),
  hwmonCurr: f('node_hwmon_curr_amps', 'gauge', 'Hardware monitor for current (input)', 'amps'),
  uname: f('node_uname_info', 'gauge', 'Labeled system information as provided by the uname system call (edgefleet: nodename is the inventory name; sysname is Linux, what the probe reads).'),
} as const;

export const EDGEFLEET_NODE_FAMILIES = {
  up: f('edgefleet_node_up', 'gauge', '1 when the node answered its last collection and every kind it gave was stored; 0 when it was unreachable or its output was rejected.'),
  lastSeen: f('edgefleet_node_last_seen_timestamp_seconds', 'gauge', 'When the node last answered a collection, unix seconds.', 'seconds'),
  collectorSuccess: f('edgefleet_collector_success', 'gauge', "1 when the kind's data of the node's last round was stored, 0 when it was not collected or was rejected."),
  tegraGpuLoad: f('edgefleet_tegra_gpu_load_percent', 'gauge', "The Jetson GPU's busy share, percent (devfreq device load, per mille / 10)."),
  tegraGpuFreq: f('edgefleet_tegra_gpu_frequency_hertz', 'gauge', "The Jetson GPU's devfreq cur_freq, hertz.", 'hertz'),
  tegraGpuFreqMax: f('edgefleet_tegra_gpu_frequency_max_hertz', 'gauge', "The Jetson GPU's devfreq max_freq, hertz.", 'hertz'),
  tegraEmcFreq: f('edgefleet_tegra_emc_frequency_hertz', 'gauge', "The Jetson memory controller's (EMC) clock, hertz, where readable.", 'hertz'),
  nvpmodel: f('edgefleet_nvpmodel_info', 'gauge', "The Jetson's nvpmodel power mode (labels mode, id)."),
  railWatts: f('edgefleet_power_rail_watts', 'gauge', 'Power of each rail (INA3221: V × A; RAPL: the energy counter rate between rounds), watts.', 'watts'),
  powerWatts: f('edgefleet_power_watts', 'gauge', "The node's total power (the board's input rail, else the sum of its rails; RAPL psys, else the packages), watts.", 'watts'),
  rpiThrottled: f('edgefleet_rpi_throttled', 'gauge', "1 when the Raspberry Pi firmware's get_throttled flag is set now, else 0."),
  rpiThrottledSinceBoot: f('edgefleet_rpi_throttled_since_boot', 'gauge', "1 when the Raspberry Pi firmware's get_throttled flag was set since boot, else 0."),
  collectorDuration: f('edgefleet_collector_duration_seconds', 'gauge', "Seconds the hub spent on the kind's data of the node's last round (parsing and checking; the probe itself is one command for all kinds).", 'seconds'),
} as const;

/** Every family nodeSamples may emit, in exposition order. */
export const NODE_FAMILY_LIST: readonly Family[] = [
  ...Object.values(EDGEFLEET_NODE_FAMILIES),
  NODE_FAMILIES.uname,
  NODE_FAMILIES.bootTime,
  NODE_FAMILIES.cpu,
  NODE_FAMILIES.cpuGuest,
  NODE_FAMILIES.load1,
  NODE_FAMILIES.load5,
  NODE_FAMILIES.load15,
  ...Object.values(NODE_FAMILIES.memory),
  NODE_FAMILIES.fsSize,
  NODE_FAMILIES.fsFree,
  NODE_FAMILIES.fsAvail,
  NODE_FAMILIES.fsFiles,
  NODE_FAMILIES.fsFilesFree,
  ...Object.values(NODE_FAMILIES.net),
  NODE_FAMILIES.netUp,
  NODE_FAMILIES.netCarrier,
  NODE_FAMILIES.netSpeed,
  NODE_FAMILIES.nvMapMemUsed,
  ...Object.values(NODE_FAMILIES.disk),
  NODE_FAMILIES.pressureCpuWaiting,
  NODE_FAMILIES.pressureCpuStalled,
  NODE_FAMILIES.pressureMemoryWaiting,
  NODE_FAMILIES.pressureMemoryStalled,
  NODE_FAMILIES.pressureIoWaiting,
  NODE_FAMILIES.pressureIoStalled,
  ...Object.values(NODE_FAMILIES.dcgm),
  NODE_FAMILIES.hwmonTemp,
  NODE_FAMILIES.hwmonChipNames,
  NODE_FAMILIES.hwmonSensorLabel,
  NODE_FAMILIES.thermalZone,
  NODE_FAMILIES.cpuFreq,
  NODE_FAMILIES.cpuFreqMin,
  NODE_FAMILIES.cpuFreqMax,
  NODE_FAMILIES.coreThrottles,
  NODE_FAMILIES.packageThrottles,
  ...Object.values(NODE_FAMILIES.rapl),
  NODE_FAMILIES.hwmonIn,
  NODE_FAMILIES.hwmonCurr,
];

/**
 * Label sets every node repeats (a core's modes), made once and frozen: the scrape's kept series
 * text (scrape.ts) is then checked by identity, not label by label (most of 116,000 samples for
 * 1,000 nodes are CPU).
 */
const cpuLabelSets = new Map<string, { modes: readonly (readonly string[])[]; guestUser: readonly string[]; guestNice: readonly string[] }>();
function cpuLabels(cpu: string) {
  let l = cpuLabelSets.get(cpu);
  if (!l) {
    const modes = CPU_MODES.map(([mode]) => Object.freeze(['cpu', cpu, 'mode', mode]));
    cpuLabelSets.set(cpu, (l = { modes, guestUser: Object.freeze(['cpu', cpu, 'mode', 'user']), guestNice: Object.freeze(['cpu', cpu, 'mode', 'nice']) }));
  }
  return l!;
}

/** The samples of one node's snapshot. `stampStatusMs` stamps the status series (current state, not a probe's). */
export function nodeSamples(sink: SampleSink, n: NodeSnapshot, node: NodeLabels, stampStatusMs?: number): void {
  statusSamples(sink, n, node, stampStatusMs);
  runSamples(sink, n, node);
  const seenMs = seenTimeMs(n);
  if (seenMs !== undefined) unameSample(sink, n.instance, node, seenMs);
  readingSamples(sink, n, node);
}

/** `up` and the last answer, from the nodes table. */
export function statusSamples(sink: SampleSink, n: Pick<NodeSnapshot, 'status' | 'lastSeenUnixSeconds'>, node: NodeLabels, stampStatusMs?: number): void {
  const E = EDGEFLEET_NODE_FAMILIES;
  sink.add(E.up, node, [], n.status === 'up' ? 1 : 0, stampStatusMs);
  if (n.lastSeenUnixSeconds !== null) sink.add(E.lastSeen, node, [], n.lastSeenUnixSeconds, stampStatusMs);
}

/** Each kind's success and duration in the node's newest round. */
export function runSamples(sink: SampleSink, n: Pick<NodeSnapshot, 'runs'>, node: NodeLabels): void {
  const E = EDGEFLEET_NODE_FAMILIES;
  if (!n.runs) return;
  for (const r of n.runs.kinds) {
    sink.add(E.collectorSuccess, node, ['kind', r.kind], r.success ? 1 : 0, n.runs.timeMs);
    sink.add(E.collectorDuration, node, ['kind', r.kind], r.durationMs / 1000, n.runs.timeMs);
  }
}

/** Kinds whose time stamps node_uname_info, first found first (a node that gave data: the probe read Linux's /proc and /sys). */
export const UNAME_KINDS = ['cpu', 'memory', 'network', 'load', 'storage', 'temperature'] as const;

export function seenTimeMs(n: NodeSnapshot): number | undefined {
  for (const k of UNAME_KINDS) if (n[k]) return n[k].timeMs;
  return undefined;
}

export function unameSample(sink: SampleSink, instance: string, node: NodeLabels, seenMs: number): void {
  sink.add(NODE_FAMILIES.uname, node, ['nodename', instance, 'sysname', 'Linux'], 1, seenMs);
}

/**
 * The samples of every kind `n` holds, status aside: the whole snapshot (remote write), or one
 * table's part of it (the scrape reads table by table).
 */
export function readingSamples(sink: SampleSink, n: NodeSnapshot, node: NodeLabels): void {
  const F = NODE_FAMILIES;
  if (n.cpu) {
    const t = n.cpu.timeMs;
    if (n.cpu.bootTimeUnixSeconds !== undefined) sink.add(F.bootTime, node, [], n.cpu.bootTimeUnixSeconds, t);
    // node_exporter exports the cores only; the aggregate `cpu` line is their sum.
    for (const c of n.cpu.cpus) {
      if (c.cpu === 'all') continue;
      const labels = cpuLabels(c.cpu);
      const m = labels.modes;
      // Spelled out: a field read by a variable name (c[key]) is a megamorphic lookup, 60,000 times a scrape.
      sink.add(F.cpu, node, m[0]!, c.userSeconds, t);
      sink.add(F.cpu, node, m[1]!, c.niceSeconds, t);
      sink.add(F.cpu, node, m[2]!, c.systemSeconds, t);
      sink.add(F.cpu, node, m[3]!, c.idleSeconds, t);
      sink.add(F.cpu, node, m[4]!, c.iowaitSeconds, t);
      sink.add(F.cpu, node, m[5]!, c.irqSeconds, t);
      sink.add(F.cpu, node, m[6]!, c.softirqSeconds, t);
      sink.add(F.cpu, node, m[7]!, c.stealSeconds, t);
      sink.add(F.cpuGuest, node, labels.guestUser, c.guestSeconds, t);
      sink.add(F.cpuGuest, node, labels.guestNice, c.guestNiceSeconds, t);
    }
  }
  if (n.load) {
    sink.add(F.load1, node, [], n.load.load1, n.load.timeMs);
    sink.add(F.load5, node, [], n.load.load5, n.load.timeMs);
    sink.add(F.load15, node, [], n.load.load15, n.load.timeMs);
  }
  if (n.memory) {
    const m = n.memory.sample;
    for (const [field, key] of MEMORY) {
      const v = m[key];
      if (v !== undefined) sink.add(F.memory[field], node, [], v, n.memory.timeMs);
    }
  }
  if (n.storage) {
    const t = n.storage.timeMs;
    for (const d of n.storage.mounts) {
      const labels = ['device', d.device, 'fstype', d.fsType, 'mountpoint', d.mountPoint];
      // df's Used is f_blocks − f_bfree, so free (f_bfree, root's reserve included) is total − used.
      sink.add(F.fsSize, node, labels, d.totalBytes, t);
      sink.add(F.fsFree, node, labels, d.totalBytes - d.usedBytes, t);
      sink.add(F.fsAvail, node, labels, d.availableBytes, t);
    }
  }
  if (n.network) {
    const t = n.network.timeMs;
    for (const c of n.network.interfaces) {
      const labels = ['device', c.iface];
      const N = F.net;
      sink.add(N.receive_bytes, node, labels, c.rxBytes, t);
      sink.add(N.receive_packets, node, labels, c.rxPackets, t);
      sink.add(N.receive_errs, node, labels, c.rxErrors, t);
      sink.add(N.receive_drop, node, labels, c.rxDrops, t);
      sink.add(N.transmit_bytes, node, labels, c.txBytes, t);
      sink.add(N.transmit_packets, node, labels, c.txPackets, t);
      sink.add(N.transmit_errs, node, labels, c.txErrors, t);
      sink.add(N.transmit_drop, node, labels, c.txDrops, t);
    }
  }
  if (n.memory?.sample.nvMapMemUsedBytes !== undefined) sink.add(F.nvMapMemUsed, node, [], n.memory.sample.nvMapMemUsedBytes, n.memory.timeMs);
  if (n.inodes) {
    for (const d of n.inodes.mounts) {
      const labels = ['device', d.device, 'fstype', d.fsType, 'mountpoint', d.mountPoint];
      sink.add(F.fsFiles, node, labels, d.files, n.inodes.timeMs);
      sink.add(F.fsFilesFree, node, labels, d.filesFree, n.inodes.timeMs);
    }
  }
  if (n.links) {
    // node_exporter's netclass: up from operstate, carrier and speed only where the kernel gave them.
    for (const l of n.links.links) {
      const labels = ['device', l.iface];
      if (l.operState !== undefined) sink.add(F.netUp, node, labels, l.operState === 'up' ? 1 : 0, n.links.timeMs);
      if (l.carrier !== undefined) sink.add(F.netCarrier, node, labels, l.carrier, n.links.timeMs);
      if (l.speedBytesPerSecond !== undefined) sink.add(F.netSpeed, node, labels, l.speedBytesPerSecond, n.links.timeMs);
    }
  }
  if (n.diskio) {
    for (const d of n.diskio.devices) {
      const labels = ['device', d.device];
      for (const [name, key] of DISK) sink.add(F.disk[name], node, labels, d[key], n.diskio.timeMs);
    }
  }
  if (n.pressure) {
    const t = n.pressure.timeMs;
    const { cpu, memory, io } = n.pressure.totals;
    if (cpu) sink.add(F.pressureCpuWaiting, node, [], cpu.some, t);
    if (cpu?.full !== undefined) sink.add(F.pressureCpuStalled, node, [], cpu.full, t);
    if (memory) sink.add(F.pressureMemoryWaiting, node, [], memory.some, t);
    if (memory?.full !== undefined) sink.add(F.pressureMemoryStalled, node, [], memory.full, t);
    if (io) sink.add(F.pressureIoWaiting, node, [], io.some, t);
    if (io?.full !== undefined) sink.add(F.pressureIoStalled, node, [], io.full, t);
  }
  if (n.nvidia) {
    // dcgm-exporter's labels: gpu (the index), UUID, modelName.
    for (const g of n.nvidia.gpus) {
      const labels = ['gpu', String(g.index), 'UUID', g.uuid, 'modelName', g.name];
      for (const [name, key, factor] of DCGM) {
        const v = g[key];
        if (v !== undefined) sink.add(F.dcgm[name], node, labels, v * factor, n.nvidia.timeMs);
      }
    }
  }
  if (n.temperature) {
    const t = n.temperature.timeMs;
    for (const r of n.temperature.readings) {
      if (r.source === 'thermal_zone') {
        sink.add(F.thermalZone, node, ['type', r.type, 'zone', r.sensor.replace(/^thermal_zone/, '')], r.celsius, t);
      } else {
        // sensor `hwmon1/temp2`, type `coretemp/Core 0` (the chip's name, then its label if any).
        const slash = r.sensor.indexOf('/');
        const chip = r.sensor.slice(0, slash);
        const sensor = r.sensor.slice(slash + 1);
        sink.add(F.hwmonTemp, node, ['chip', chip, 'sensor', sensor], r.celsius, t);
        const cut = r.type.indexOf('/');
        const label = cut < 0 ? undefined : r.type.slice(cut + 1);
        if (label !== undefined) sink.add(F.hwmonSensorLabel, node, ['chip', chip, 'label', label, 'sensor', sensor], 1, t);
      }
    }
    // One chip-name annotation per chip.
    const chips = new Map<string, string>();
    for (const r of n.temperature.readings) {
      if (r.source !== 'hwmon') continue;
      const chip = r.sensor.slice(0, r.sensor.indexOf('/'));
      const cut = r.type.indexOf('/');
      chips.set(chip, cut < 0 ? r.type : r.type.slice(0, cut));
    }
    for (const [chip, name] of chips) sink.add(F.hwmonChipNames, node, ['chip', chip, 'chip_name', name], 1, t);
  }
  acceleratorSamples(sink, n, node);
}

const RPI_FLAGS = [
  ['under_voltage', 0],
  ['arm_freq_capped', 1],
  ['throttled', 2],
  ['soft_temp_limit', 3],
] as const;

/** Issue 18's kinds: node_exporter's names for cpufreq, throttles, RAPL and hwmon; edgefleet_* for the rest. */
function acceleratorSamples(sink: SampleSink, n: NodeSnapshot, node: NodeLabels): void {
  const E = EDGEFLEET_NODE_FAMILIES;
  const F = NODE_FAMILIES;
  if (n.tegraGpu) {
    const t = n.tegraGpu.timeMs;
    for (const g of n.tegraGpu.gpus) {
      const l = ['device', g.device];
      if (g.loadPercent !== undefined) sink.add(E.tegraGpuLoad, node, l, g.loadPercent, t);
      if (g.curFreqHertz !== undefined) sink.add(E.tegraGpuFreq, node, l, g.curFreqHertz, t);
      if (g.maxFreqHertz !== undefined) sink.add(E.tegraGpuFreqMax, node, l, g.maxFreqHertz, t);
    }
    const first = n.tegraGpu.gpus[0];
    if (first?.emcFreqHertz !== undefined) sink.add(E.tegraEmcFreq, node, [], first.emcFreqHertz, t);
    if (first?.powerModeId !== undefined) sink.add(E.nvpmodel, node, ['id', String(first.powerModeId), 'mode', first.powerMode ?? ''], 1, t);
  }
  if (n.power) {
    const t = n.power.timeMs;
    for (const r of n.power.sample.rails) {
      if (r.watts !== undefined) sink.add(E.railWatts, node, ['rail', r.rail, 'source', r.source], r.watts, t);
      if (r.source === 'rapl' && r.joulesTotal !== undefined) {
        // `intel-rapl:0:0` → index 0 (its package), domain `core`; `package-0` → package.
        const domain = (r.rail.includes('/') ? r.rail.slice(r.rail.lastIndexOf('/') + 1) : r.rail).replace(/-[0-9]+$/, '');
        const fam = (F.rapl as Record<string, typeof F.rapl.package | undefined>)[domain];
        const index = /^intel-rapl:([0-9]+)/.exec(r.sensor)?.[1] ?? '0';
        if (fam) sink.add(fam, node, ['index', index, 'path', `/sys/class/powercap/${r.sensor}`], r.joulesTotal, t);
      }
      const hw = r.source === 'ina3221' ? /^(hwmon[0-9]+)\/in([0-9]+)$/.exec(r.sensor) : null;
      if (hw) {
        if (r.volts !== undefined) sink.add(F.hwmonIn, node, ['chip', hw[1]!, 'sensor', `in${hw[2]}`], r.volts, t);
        if (r.amperes !== undefined) sink.add(F.hwmonCurr, node, ['chip', hw[1]!, 'sensor', `curr${hw[2]}`], r.amperes, t);
      }
    }
    if (n.power.sample.totalWatts !== undefined) sink.add(E.powerWatts, node, [], n.power.sample.totalWatts, t);
  }
  if (n.clocks) {
    const t = n.clocks.timeMs;
    const c = n.clocks.sample;
    for (const f of c.frequencies) {
      const l = ['cpu', f.cpu];
      if (f.curHertz !== undefined) sink.add(F.cpuFreq, node, l, f.curHertz, t);
      if (f.minHertz !== undefined) sink.add(F.cpuFreqMin, node, l, f.minHertz, t);
      if (f.maxHertz !== undefined) sink.add(F.cpuFreqMax, node, l, f.maxHertz, t);
    }
    // node_exporter: one core series per (package, core), one package series per package.
    const cores = new Set<string>();
    const packages = new Set<string>();
    for (const x of c.throttles) {
      const pkg = x.package ?? '0';
      const core = x.core ?? x.cpu;
      if (x.coreThrottles !== undefined && !cores.has(`${pkg}/${core}`)) {
        cores.add(`${pkg}/${core}`);
        sink.add(F.coreThrottles, node, ['core', core, 'package', pkg], x.coreThrottles, t);
      }
      if (x.packageThrottles !== undefined && !packages.has(pkg)) {
        packages.add(pkg);
        sink.add(F.packageThrottles, node, ['package', pkg], x.packageThrottles, t);
      }
    }
    if (c.rpiThrottled) {
      for (const [flag, bit] of RPI_FLAGS) {
        sink.add(E.rpiThrottled, node, ['flag', flag], (c.rpiThrottled.flags >> bit) & 1, t);
        sink.add(E.rpiThrottledSinceBoot, node, ['flag', flag], (c.rpiThrottled.flags >> (bit + 16)) & 1, t);
      }
    }
  }
}
