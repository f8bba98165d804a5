import type { ClocksSample, CpuUsage, DiskIoRates, DiskStats, InodesSample, MemorySample, MetricKind, NetDevCounters, NetLink, NetRates, NvidiaGpu, PowerSample, PressureSample, StorageSample, TegraGpuReading, TemperatureReading } from '../domain/index.js';
import type { Db } from './db.js';

/** Everything one node gave in one round, ready to store. Absent kinds were not collected or were rejected. */
export interface NodeReadings {
  node: string;
  timeUnixSeconds: number;
  temperature?: TemperatureReading[];
  cpu?: CpuUsage[];
  load?: { load1: number; load5: number; load15: number };
  memory?: MemorySample;
  storage?: StorageSample[];
  network?: { counters: NetDevCounters[]; rates: Map<string, NetRates>; links?: Map<string, NetLink> };
  diskio?: { counters: DiskStats[]; rates: Map<string, DiskIoRates> };
  inodes?: InodesSample[];
  pressure?: PressureSample[];
  nvidia?: NvidiaGpu[];
  tegraGpu?: TegraGpuReading[];
  power?: PowerSample;
  clocks?: ClocksSample;
}

export interface CollectorRun {
  node: string;
  kind: MetricKind;
  success: boolean;
  durationMs: number;
  rows: number;
  error?: string;
}

/** What identifies a round in `rounds`: when it started, which kinds, how many nodes. */
export interface RoundMeta {
  /** The round's time, as every reading of it carries. */
  timeUnixSeconds: number;
  startedUnixMs: number;
  kinds: readonly MetricKind[];
  nodes: number;
}

export interface CounterState {
  node: string;
  kind: MetricKind;
  timeMs: number;
  sample: unknown;
}

/** Prepared statements for one database, made once per connection. */
export class ReadingsWriter {
  readonly #stmts;
  /** Dimension rows (sensor types, mount devices) this writer has written: skip rewriting them every round. */
  readonly #written = new Set<string>();

  constructor(private readonly db: Db) {
    const p = (sql: string) => db.prepare(sql);
    // OR REPLACE: readings are keyed by second, so two rounds in the same second (a CLI run
    // beside the hub) keep the later one's instead of failing the whole round on the primary key.
    // collector_runs keeps both: it is keyed by round.
    this.#stmts = {
      sensor: p(
        `INSERT INTO temperature_sensors (node_id, sensor, type, source) VALUES (?, ?, ?, ?)
         ON CONFLICT (node_id, sensor) DO UPDATE SET type = excluded.type, source = excluded.source
         WHERE type <> excluded.type OR source <> excluded.source`,
      ),
      temperature: p('INSERT OR REPLACE INTO temperature (node_id, time, sensor, celsius) VALUES (?, ?, ?, ?)'),
      cpu: p(
        `INSERT OR REPLACE INTO cpu (node_id, time, cpu, usage_percent, user_percent, nice_percent, system_percent, iowait_percent, irq_percent,
           softirq_percent, steal_percent, idle_percent, interval_seconds) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      ),
      load: p('INSERT OR REPLACE INTO load (node_id, time, load1, load5, load15) VALUES (?, ?, ?, ?, ?)'),
      memory: p(
        `INSERT OR REPLACE INTO memory (node_id, time, mem_total_bytes, mem_free_bytes, mem_available_bytes, buffers_bytes, cached_bytes,
           swap_total_bytes, swap_free_bytes, used_percent, nvmap_used_bytes) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      ),
      mount: p(
        `INSERT INTO mounts (node_id, mount_point, device, fs_type) VALUES (?, ?, ?, ?)
         ON CONFLICT (node_id, mount_point) DO UPDATE SET device = excluded.device, fs_type = excluded.fs_type
         WHERE device <> excluded.device OR fs_type <> excluded.fs_type`,
      ),
      storage: p(
        `INSERT OR REPLACE INTO storage (node_id, time, mount_point, total_bytes, used_bytes, available_bytes, used_percent)
         VALUES (?, ?, ?, ?, ?, ?, ?)`,
      ),
      network: p(
        `INSERT OR REPLACE INTO network (node_id, time, iface, rx_bytes, rx_packets, rx_errors, rx_drops, tx_bytes, tx_packets, tx_errors, tx_drops,
           rx_bytes_per_second, tx_bytes_per_second, rx_packets_per_second, tx_packets_per_second,
           rx_errors_per_second, tx_errors_per_second, rx_drops_per_second, tx_drops_per_second, oper_state, carrier, speed_bytes_per_second)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      ),
      diskio: p(
        `INSERT OR REPLACE INTO diskio (node_id, time, device, reads_completed, read_bytes, read_time_seconds, writes_completed, written_bytes,
           write_time_seconds, io_time_seconds, read_bytes_per_second, written_bytes_per_second, reads_per_second, writes_per_second, utilization_percent)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      ),
      inodes: p('INSERT OR REPLACE INTO inodes (node_id, time, mount_point, files, files_free, used_percent) VALUES (?, ?, ?, ?, ?, ?)'),
      pressure: p(
        `INSERT OR REPLACE INTO pressure (node_id, time, resource, some_avg10, some_avg60, some_avg300, some_total_seconds, some_percent,
           full_avg10, full_avg60, full_avg300, full_total_seconds, full_percent) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      ),
      nvidia: p(
        `INSERT OR REPLACE INTO nvidia_gpu (node_id, time, uuid, gpu_index, name, utilization_gpu_percent, utilization_memory_percent,
           memory_used_bytes, memory_total_bytes, temperature_celsius, power_draw_watts, power_limit_watts, sm_clock_mhz, mem_clock_mhz, throttle_reasons)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      ),
      tegraGpu: p(
        `INSERT OR REPLACE INTO tegra_gpu (node_id, time, device, load_percent, cur_freq_hertz, min_freq_hertz, max_freq_hertz, governor, emc_freq_hertz, power_mode, power_mode_id)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      ),
      powerRail: p('INSERT OR REPLACE INTO power_rails (node_id, time, rail, source, sensor, volts, amperes, watts, joules_total) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)'),
      power: p('INSERT OR REPLACE INTO power (node_id, time, watts, total_of) VALUES (?, ?, ?, ?)'),
      cpuFrequency: p('INSERT OR REPLACE INTO cpu_frequency (node_id, time, cpu, cur_hertz, min_hertz, max_hertz) VALUES (?, ?, ?, ?, ?, ?)'),
      cpuThrottle: p(
        `INSERT OR REPLACE INTO cpu_throttle (node_id, time, cpu, package, core, core_throttles, package_throttles, core_throttles_new) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
      ),
      rpiThrottled: p('INSERT OR REPLACE INTO rpi_throttled (node_id, time, flags, source) VALUES (?, ?, ?, ?)'),
      counter: p(
        `INSERT INTO counter_state (node_id, kind, time_ms, sample_json) VALUES (?, ?, ?, ?)
         ON CONFLICT (node_id, kind) DO UPDATE SET time_ms = excluded.time_ms, sample_json = excluded.sample_json`,
      ),
      round: p('INSERT INTO rounds (time, started_unix_ms, written_unix_ms, nodes, kinds) VALUES (?, ?, ?, ?, ?)'),
      run: p('INSERT INTO collector_runs (node_id, time, round_id, kind, success, duration_ms, rows, error) VALUES (?, ?, ?, ?, ?, ?, ?, ?)'),
      nodeIds: p('SELECT name, id FROM nodes'),
    };
  }

  /** Rows one node's readings make, per kind (what the summary reports). */
  static rowCount(r: NodeReadings): number {
    return (r.temperature?.length ?? 0) + (r.cpu?.length ?? 0) + (r.load ? 1 : 0) + (r.memory ? 1 : 0) + (r.storage?.length ?? 0) + (r.network?.counters.length ?? 0) +
      (r.diskio?.counters.length ?? 0) + (r.inodes?.length ?? 0) + (r.pressure?.length ?? 0) + (r.nvidia?.length ?? 0) +
      (r.tegraGpu?.length ?? 0) + (r.power?.rails.length ?? 0) + (r.clocks ? r.clocks.frequencies.length + r.clocks.throttles.length + (r.clocks.rpiThrottled ? 1 : 0) : 0);
  }

  /** A transaction around writeRound rolled back: what #once remembers may not be in the tables. */
  forgetWritten(): void {
    this.#written.clear();
  }

  #once(key: string, write: () => unknown): void {
    if (this.#written.has(key)) return;
    write();
    this.#written.add(key);
  }

  /**
   * One round in one IMMEDIATE transaction (the write lock is taken at BEGIN, where the busy
   * timeout applies; a deferred one that read first would fail at its first write without
   * waiting). `meta` defaults to the readings' time and the runs' nodes and kinds. Returns the
   * round's id in `rounds`.
   */
  writeRound(readings: readonly NodeReadings[], counters: readonly CounterState[], runs: readonly CollectorRun[], extra?: () => void, meta?: RoundMeta): number {
    const s = this.#stmts;
    const nowMs = Date.now();
    const m = meta ?? {
      timeUnixSeconds: readings[0]?.timeUnixSeconds ?? Math.floor(nowMs / 1000),
      startedUnixMs: nowMs,
      kinds: [...new Set(runs.map((r) => r.kind))],
      nodes: new Set([...runs.map((r) => r.node), ...readings.map((r) => r.node)]).size,
    };
    const run = this.db.transaction((): number => {
      const ids = new Map((s.nodeIds.all() as { name: string; id: number }[]).map((r) => [r.name, r.id]));
      const idOf = (name: string) => {
        const id = ids.get(name);
        if (id === undefined) throw new Error(`node ${name} is not in the nodes table: sync the inventory first`);
        return id;
      };
      for (const r of readings) {
        const n = idOf(r.node);
        const t = r.timeUnixSeconds;
        for (const x of r.temperature ?? []) {
          this.#once(`t\0${n}\0${x.sensor}\0${x.type}\0${x.source}`, () => s.sensor.run(n, x.sensor, x.type, x.source));
          s.temperature.run(n, t, x.sensor, x.celsius);
        }
        for (const c of r.cpu ?? []) {
          s.cpu.run(n, t, c.cpu, c.usagePercent, c.userPercent, c.nicePercent, c.systemPercent, c.iowaitPercent, c.irqPercent, c.softirqPercent, c.stealPercent, c.idlePercent, c.intervalSeconds);
        }
        if (r.load) s.load.run(n, t, r.load.load1, r.load.load5, r.load.load15);
        const m = r.memory;
        if (m) {
          s.memory.run(n, t, m.memTotalBytes, m.memFreeBytes, m.memAvailableBytes ?? null, m.buffersBytes ?? null, m.cachedBytes ?? null, m.swapTotalBytes ?? null, m.swapFreeBytes ?? null, m.usedPercent, m.nvMapMemUsedBytes ?? null);
        }
        for (const d of r.storage ?? []) {
          this.#once(`m\0${n}\0${d.mountPoint}\0${d.device}\0${d.fsType}`, () => s.mount.run(n, d.mountPoint, d.device, d.fsType));
          s.storage.run(n, t, d.mountPoint, d.totalBytes, d.usedBytes, d.availableBytes, d.usedPercent);
        }
        for (const c of r.network?.counters ?? []) {
          const rate = r.network!.rates.get(c.iface);
          const link = r.network!.links?.get(c.iface);
          s.network.run(
            n, t, c.iface, c.rxBytes, c.rxPackets, c.rxErrors, c.rxDrops, c.txBytes, c.txPackets, c.txErrors, c.txDrops,
            rate?.rxBytesPerSecond ?? null, rate?.txBytesPerSecond ?? null, rate?.rxPacketsPerSecond ?? null, rate?.txPacketsPerSecond ?? null,
            rate?.rxErrorsPerSecond ?? null, rate?.txErrorsPerSecond ?? null, rate?.rxDropsPerSecond ?? null, rate?.txDropsPerSecond ?? null,
            link?.operState ?? null, link?.carrier ?? null, link?.speedBytesPerSecond ?? null,
          );
        }
        for (const d of r.diskio?.counters ?? []) {
          const rate = r.diskio!.rates.get(d.device);
          s.diskio.run(
            n, t, d.device, d.readsCompleted, d.readBytes, d.readTimeSeconds, d.writesCompleted, d.writtenBytes, d.writeTimeSeconds, d.ioTimeSeconds,
            rate?.readBytesPerSecond ?? null, rate?.writtenBytesPerSecond ?? null, rate?.readsPerSecond ?? null, rate?.writesPerSecond ?? null, rate?.utilizationPercent ?? null,
          );
        }
        for (const x of r.inodes ?? []) {
          this.#once(`m\0${n}\0${x.mountPoint}\0${x.device}\0${x.fsType}`, () => s.mount.run(n, x.mountPoint, x.device, x.fsType));
          s.inodes.run(n, t, x.mountPoint, x.files, x.filesFree, x.usedPercent);
        }
        for (const p of r.pressure ?? []) {
          s.pressure.run(
            n, t, p.resource, p.some.avg10, p.some.avg60, p.some.avg300, p.some.totalSeconds, p.somePercent ?? null,
            p.full?.avg10 ?? null, p.full?.avg60 ?? null, p.full?.avg300 ?? null, p.full?.totalSeconds ?? null, p.fullPercent ?? null,
          );
        }
        for (const g of r.nvidia ?? []) {
          s.nvidia.run(
            n, t, g.uuid, g.index, g.name, g.utilizationGpuPercent ?? null, g.utilizationMemoryPercent ?? null, g.memoryUsedBytes ?? null, g.memoryTotalBytes ?? null,
            g.temperatureCelsius ?? null, g.powerDrawWatts ?? null, g.powerLimitWatts ?? null, g.smClockMhz ?? null, g.memClockMhz ?? null, g.throttleReasons ?? null,
          );
        }
        for (const g of r.tegraGpu ?? []) {
          s.tegraGpu.run(n, t, g.device, g.loadPercent ?? null, g.curFreqHertz ?? null, g.minFreqHertz ?? null, g.maxFreqHertz ?? null, g.governor ?? null, g.emcFreqHertz ?? null, g.powerMode ?? null, g.powerModeId ?? null);
        }
        if (r.power) {
          for (const x of r.power.rails) s.powerRail.run(n, t, x.rail, x.source, x.sensor, x.volts ?? null, x.amperes ?? null, x.watts ?? null, x.joulesTotal ?? null);
          if (r.power.totalWatts !== undefined) s.power.run(n, t, r.power.totalWatts, r.power.totalOf ?? 'sum');
        }
        if (r.clocks) {
          for (const f of r.clocks.frequencies) s.cpuFrequency.run(n, t, f.cpu, f.curHertz ?? null, f.minHertz ?? null, f.maxHertz ?? null);
          for (const x of r.clocks.throttles) s.cpuThrottle.run(n, t, x.cpu, x.package ?? null, x.core ?? null, x.coreThrottles ?? null, x.packageThrottles ?? null, x.coreThrottlesNew ?? null);
          if (r.clocks.rpiThrottled) s.rpiThrottled.run(n, t, r.clocks.rpiThrottled.flags, r.clocks.rpiThrottled.source);
        }
      }
      for (const c of counters) s.counter.run(idOf(c.node), c.kind, c.timeMs, JSON.stringify(c.sample));
      const roundId = Number(s.round.run(m.timeUnixSeconds, m.startedUnixMs, nowMs, m.nodes, m.kinds.join(',')).lastInsertRowid);
      for (const run of runs) s.run.run(idOf(run.node), m.timeUnixSeconds, roundId, run.kind, run.success ? 1 : 0, run.durationMs, run.rows, run.error ?? null);
      extra?.();
      return roundId;
    });
    try {
      return run.immediate();
    } catch (e) {
      // Rolled back: what #once remembers of this round may not be in the table.
      this.#written.clear();
      throw e;
    }
  }
}

/** One writer (its prepared statements) per open database. */
const writers = new WeakMap<Db, ReadingsWriter>();
export function readingsWriter(db: Db): ReadingsWriter {
  let w = writers.get(db);
  if (!w) writers.set(db, (w = new ReadingsWriter(db)));
  return w;
}

/** The last raw counters of each node for the kinds given, keyed `node\0kind`. */
export function loadCounterStates(db: Db, kinds: readonly MetricKind[]): Map<string, { timeMs: number; sample: unknown }> {
  const out = new Map<string, { timeMs: number; sample: unknown }>();
  if (kinds.length === 0) return out;
  const rows = db
    .prepare(`SELECT n.name AS node, kind, time_ms, sample_json FROM counter_state c JOIN nodes n ON n.id = c.node_id WHERE kind IN (${kinds.map(() => '?').join(',')})`)
    .all(...kinds) as { node: string; kind: string; time_ms: number; sample_json: string }[];
  for (const r of rows) out.set(`${r.node}\0${r.kind}`, { timeMs: r.time_ms, sample: JSON.parse(r.sample_json) });
  return out;
}
