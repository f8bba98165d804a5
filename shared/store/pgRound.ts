/**
 * A round's rows on PostgreSQL, and how they get in (pgStore.ts writeRound).
 *
 * The readings tables and collector_runs take the round by binary COPY (pgCopy.ts), a plain
 * batched insert, under a savepoint. A row already stored — the same node, second and key
 * written again, which SQLite's INSERT OR REPLACE replaces — fails COPY's unique check (23505):
 * the savepoint is rolled back and those tables go through `INSERT … SELECT FROM unnest(…) ON
 * CONFLICT DO UPDATE`, which replaces it, the later of two rows with one key winning. So does a
 * round holding a value COPY's binary form cannot carry. bench/README.md (bench:store) has the
 * figures of both paths.
 *
 * temperature_sensors and mounts (what a sensor or a mount is) change almost never, yet every
 * round names them: RoundCache remembers what this process wrote and confirmed, and a round
 * sends only what differs, or what was last confirmed over CONFIRM_MS ago (another hub may have
 * written the node meanwhile, when its shard moved).
 */
import { from as copyFrom } from 'pg-copy-streams';
import type { PgClient } from './pg.js';
import { encodeCopy, type PgColType } from './pgCopy.js';
import type { NodeReadings } from './readings.js';

type Col = [name: string, type: PgColType];

/** One table's rows of a round: columns with their types, the key columns, the rows in order. */
export class Bulk {
  rows: unknown[][] = [];
  /** Where the key columns are in a row. */
  readonly #keyAt: number[];
  constructor(
    readonly table: string,
    readonly columns: Col[],
    readonly key: string[],
    /** What a conflict does: replace the row (readings), or only when it differs (what a sensor or mount is). */
    readonly onConflict: 'update' | 'updateIfChanged' = 'update',
  ) {
    this.#keyAt = key.map((k) => columns.findIndex(([n]) => n === k));
  }

  get size() {
    return this.rows.length;
  }

  add(values: unknown[]): void {
    this.rows.push(values);
  }

  keyOf(row: readonly unknown[]): string {
    let k = '';
    for (const i of this.#keyAt) k += `${String(row[i])}\0`;
    return k;
  }

  /** The rows with one per key, a later row replacing an earlier one (one statement may not touch a row twice). */
  deduped(): unknown[][] {
    const at = new Map<string, number>();
    const out: unknown[][] = [];
    for (const row of this.rows) {
      const k = this.keyOf(row);
      const i = at.get(k);
      if (i === undefined) at.set(k, out.push(row) - 1);
      else out[i] = row;
    }
    return out;
  }

  sql(): string {
    const names = this.columns.map(([n]) => n);
    const others = names.filter((n) => !this.key.includes(n));
    const unnest = this.columns.map(([, t], i) => `$${i + 1}::${t}[]`).join(', ');
    let conflict = `ON CONFLICT (${this.key.join(', ')}) DO NOTHING`;
    if (others.length) {
      conflict = `ON CONFLICT (${this.key.join(', ')}) DO UPDATE SET ${others.map((n) => `${n} = excluded.${n}`).join(', ')}`;
      if (this.onConflict === 'updateIfChanged') conflict += ` WHERE ${others.map((n) => `${this.table}.${n} IS DISTINCT FROM excluded.${n}`).join(' OR ')}`;
    }
    return `INSERT INTO ${this.table} (${names.join(', ')}) SELECT * FROM unnest(${unnest}) ${conflict}`;
  }

  /** The upsert: one statement, one array per column. */
  async upsert(c: PgClient): Promise<void> {
    if (!this.size) return;
    const rows = this.deduped();
    await c.query(this.sql(), this.columns.map((_, i) => rows.map((r) => r[i])));
  }

  /** COPY the rows in (binary): plain inserts, so a row already stored fails it with 23505. */
  async copy(c: PgClient, body: Buffer): Promise<void> {
    const stream = c.query(copyFrom(`COPY ${this.table} (${this.columns.map(([n]) => n).join(', ')}) FROM STDIN (FORMAT binary)`));
    await new Promise<void>((resolve, reject) => {
      stream.on('error', reject);
      stream.on('finish', resolve);
      stream.end(body);
    });
  }
}

/**
 * Tables of one round by COPY under a savepoint; on a key already stored (or a value binary
 * COPY cannot carry), the savepoint rolled back and the tables upserted instead. Returns which.
 */
export async function copyOrUpsert(c: PgClient, tables: readonly Bulk[]): Promise<'copy' | 'upsert'> {
  const full = tables.filter((b) => b.size > 0);
  if (full.length === 0) return 'copy';
  const bodies = full.map((b) => encodeCopy(b.columns.map(([, t]) => t), b.rows));
  if (bodies.every((x) => x !== undefined)) {
    await c.query('SAVEPOINT round_copy');
    try {
      for (let i = 0; i < full.length; i++) await full[i]!.copy(c, bodies[i]!);
      await c.query('RELEASE SAVEPOINT round_copy');
      return 'copy';
    } catch (e) {
      if ((e as { code?: string }).code !== '23505') throw e;
      await c.query('ROLLBACK TO SAVEPOINT round_copy');
    }
  }
  for (const b of full) await b.upsert(c);
  return 'upsert';
}

/** How long a sensor's or mount's row, written or confirmed, is taken as stored without sending it again. */
export const CONFIRM_MS = 10 * 60_000;
/** Entries kept at most (a fleet's sensors and mounts; past it the cache starts over). */
const CACHE_MAX = 200_000;

/**
 * What this process knows is stored: node ids by name (a node row is never deleted, so a name
 * keeps its id), and temperature_sensors / mounts rows by key. Filled only after a commit.
 */
export class RoundCache {
  ids = new Map<string, number>();
  readonly #meta = new Map<string, { value: string; atMs: number }>();

  /** The rows of `b` (keyed by node and sensor or mount) not known to be stored as they are; and what to remember once committed. */
  unknownRows(b: Bulk, nowMs: number): { rows: unknown[][]; learned: [string, string][] } {
    const rows: unknown[][] = [];
    const learned: [string, string][] = [];
    for (const row of b.deduped()) {
      const k = `${b.table}\0${b.keyOf(row)}`;
      const value = row.join('\0');
      const had = this.#meta.get(k);
      if (had && had.value === value && nowMs - had.atMs < CONFIRM_MS) continue;
      rows.push(row);
      learned.push([k, value]);
    }
    return { rows, learned };
  }

  remember(learned: readonly [string, string][], nowMs: number): void {
    if (this.#meta.size + learned.length > CACHE_MAX) this.#meta.clear();
    for (const [k, value] of learned) this.#meta.set(k, { value, atMs: nowMs });
  }
}

const B: 'bigint' = 'bigint';
const F: 'float8' = 'float8';
const T: 'text' = 'text';

/** collector_runs of a round (its round id in every row). */
export const runsBulk = () =>
  new Bulk('collector_runs', [['node_id', B], ['time', B], ['round_id', B], ['kind', T], ['success', B], ['duration_ms', F], ['rows', B], ['error', T]], ['node_id', 'time', 'round_id', 'kind']);


function roundTables() {
  return {
    sensors: new Bulk('temperature_sensors', [['node_id', B], ['sensor', T], ['type', T], ['source', T]], ['node_id', 'sensor'], 'updateIfChanged'),
    temperature: new Bulk('temperature', [['node_id', B], ['time', B], ['sensor', T], ['celsius', F]], ['node_id', 'time', 'sensor']),
    cpu: new Bulk(
      'cpu',
      [['node_id', B], ['time', B], ['cpu', T], ...['usage', 'user', 'nice', 'system', 'iowait', 'irq', 'softirq', 'steal', 'idle'].map((m): Col => [`${m}_percent`, F]), ['interval_seconds', F]],
      ['node_id', 'time', 'cpu'],
    ),
    load: new Bulk('load', [['node_id', B], ['time', B], ['load1', F], ['load5', F], ['load15', F]], ['node_id', 'time']),
    memory: new Bulk(
      'memory',
      [['node_id', B], ['time', B], ...['mem_total', 'mem_free', 'mem_available', 'buffers', 'cached', 'swap_total', 'swap_free'].map((m): Col => [`${m}_bytes`, B]), ['used_percent', F], ['nvmap_used_bytes', B]],
      ['node_id', 'time'],
    ),
    mounts: new Bulk('mounts', [['node_id', B], ['mount_point', T], ['device', T], ['fs_type', T]], ['node_id', 'mount_point'], 'updateIfChanged'),
    storage: new Bulk(
      'storage',
      [['node_id', B], ['time', B], ['mount_point', T], ['total_bytes', B], ['used_bytes', B], ['available_bytes', B], ['used_percent', F]],
      ['node_id', 'time', 'mount_point'],
    ),
    network: new Bulk(
      'network',
      [
        ['node_id', B], ['time', B], ['iface', T],
        ...['rx_bytes', 'rx_packets', 'rx_errors', 'rx_drops', 'tx_bytes', 'tx_packets', 'tx_errors', 'tx_drops'].map((m): Col => [m, B]),
        ...['bytes', 'packets', 'errors', 'drops'].flatMap((k) => ['rx', 'tx'].map((d): Col => [`${d}_${k}_per_second`, F])),
        ['oper_state', T], ['carrier', B], ['speed_bytes_per_second', F],
      ],
      ['node_id', 'time', 'iface'],
    ),
    diskio: new Bulk(
      'diskio',
      [
        ['node_id', B], ['time', B], ['device', T], ['reads_completed', B], ['read_bytes', B], ['read_time_seconds', F], ['writes_completed', B], ['written_bytes', B],
        ['write_time_seconds', F], ['io_time_seconds', F], ['read_bytes_per_second', F], ['written_bytes_per_second', F], ['reads_per_second', F], ['writes_per_second', F], ['utilization_percent', F],
      ],
      ['node_id', 'time', 'device'],
    ),
    inodes: new Bulk('inodes', [['node_id', B], ['time', B], ['mount_point', T], ['files', B], ['files_free', B], ['used_percent', F]], ['node_id', 'time', 'mount_point']),
    pressure: new Bulk(
      'pressure',
      [
        ['node_id', B], ['time', B], ['resource', T], ['some_avg10', F], ['some_avg60', F], ['some_avg300', F], ['some_total_seconds', F], ['some_percent', F],
        ['full_avg10', F], ['full_avg60', F], ['full_avg300', F], ['full_total_seconds', F], ['full_percent', F],
      ],
      ['node_id', 'time', 'resource'],
    ),
    nvidia: new Bulk(
      'nvidia_gpu',
      [
        ['node_id', B], ['time', B], ['uuid', T], ['gpu_index', B], ['name', T], ['utilization_gpu_percent', F], ['utilization_memory_percent', F], ['memory_used_bytes', B],
        ['memory_total_bytes', B], ['temperature_celsius', F], ['power_draw_watts', F], ['power_limit_watts', F], ['sm_clock_mhz', F], ['mem_clock_mhz', F], ['throttle_reasons', B],
      ],
      ['node_id', 'time', 'uuid'],
    ),
    // Issue 18 (migration 14): the Tegra GPU, power rails and the node's power, cpufreq, thermal throttles, the Pi's get_throttled.
    tegraGpu: new Bulk(
      'tegra_gpu',
      [['node_id', B], ['time', B], ['device', T], ['load_percent', F], ['cur_freq_hertz', F], ['min_freq_hertz', F], ['max_freq_hertz', F], ['governor', T], ['emc_freq_hertz', F], ['power_mode', T], ['power_mode_id', B]],
      ['node_id', 'time', 'device'],
    ),
    powerRails: new Bulk(
      'power_rails',
      [['node_id', B], ['time', B], ['rail', T], ['source', T], ['sensor', T], ['volts', F], ['amperes', F], ['watts', F], ['joules_total', F]],
      ['node_id', 'time', 'rail'],
    ),
    power: new Bulk('power', [['node_id', B], ['time', B], ['watts', F], ['total_of', T]], ['node_id', 'time']),
    cpuFrequency: new Bulk('cpu_frequency', [['node_id', B], ['time', B], ['cpu', T], ['cur_hertz', F], ['min_hertz', F], ['max_hertz', F]], ['node_id', 'time', 'cpu']),
    cpuThrottle: new Bulk(
      'cpu_throttle',
      [['node_id', B], ['time', B], ['cpu', T], ['package', T], ['core', T], ['core_throttles', B], ['package_throttles', B], ['core_throttles_new', B]],
      ['node_id', 'time', 'cpu'],
    ),
    rpiThrottled: new Bulk('rpi_throttled', [['node_id', B], ['time', B], ['flags', B], ['source', T]], ['node_id', 'time']),
    counters: new Bulk('counter_state', [['node_id', B], ['kind', T], ['time_ms', B], ['sample_json', T]], ['node_id', 'kind']),
  };
}

/** network's per-second columns in Bulk order (rx_bytes, tx_bytes, rx_packets, …). */
const RATE_KEYS = ['bytes', 'packets', 'errors', 'drops'].flatMap((k) => ['rx', 'tx'].map((d) => `${d}${k[0]!.toUpperCase()}${k.slice(1)}PerSecond`));

/** A round's rows into the bulk tables (ids from the nodes table). */
export function roundRows(readings: readonly NodeReadings[], idOf: (name: string) => number) {
  const t = roundTables();
  for (const r of readings) {
    const n = idOf(r.node);
    const time = r.timeUnixSeconds;
    for (const x of r.temperature ?? []) {
      t.sensors.add([n, x.sensor, x.type, x.source]);
      t.temperature.add([n, time, x.sensor, x.celsius]);
    }
    for (const c of r.cpu ?? []) {
      t.cpu.add([n, time, c.cpu, c.usagePercent, c.userPercent, c.nicePercent, c.systemPercent, c.iowaitPercent, c.irqPercent, c.softirqPercent, c.stealPercent, c.idlePercent, c.intervalSeconds]);
    }
    if (r.load) t.load.add([n, time, r.load.load1, r.load.load5, r.load.load15]);
    const m = r.memory;
    if (m) {
      t.memory.add([n, time, m.memTotalBytes, m.memFreeBytes, m.memAvailableBytes ?? null, m.buffersBytes ?? null, m.cachedBytes ?? null, m.swapTotalBytes ?? null, m.swapFreeBytes ?? null, m.usedPercent, m.nvMapMemUsedBytes ?? null]);
    }
    for (const d of r.storage ?? []) {
      t.mounts.add([n, d.mountPoint, d.device, d.fsType]);
      t.storage.add([n, time, d.mountPoint, d.totalBytes, d.usedBytes, d.availableBytes, d.usedPercent]);
    }
    for (const c of r.network?.counters ?? []) {
      const rate = r.network!.rates.get(c.iface) as Record<string, number | undefined> | undefined;
      const link = r.network!.links?.get(c.iface);
      t.network.add([
        n, time, c.iface, c.rxBytes, c.rxPackets, c.rxErrors, c.rxDrops, c.txBytes, c.txPackets, c.txErrors, c.txDrops,
        ...RATE_KEYS.map((k) => rate?.[k] ?? null),
        link?.operState ?? null, link?.carrier ?? null, link?.speedBytesPerSecond ?? null,
      ]);
    }
    for (const d of r.diskio?.counters ?? []) {
      const rate = r.diskio!.rates.get(d.device);
      t.diskio.add([
        n, time, d.device, d.readsCompleted, d.readBytes, d.readTimeSeconds, d.writesCompleted, d.writtenBytes, d.writeTimeSeconds, d.ioTimeSeconds,
        rate?.readBytesPerSecond ?? null, rate?.writtenBytesPerSecond ?? null, rate?.readsPerSecond ?? null, rate?.writesPerSecond ?? null, rate?.utilizationPercent ?? null,
      ]);
    }
    for (const x of r.inodes ?? []) {
      t.mounts.add([n, x.mountPoint, x.device, x.fsType]);
      t.inodes.add([n, time, x.mountPoint, x.files, x.filesFree, x.usedPercent]);
    }
    for (const p of r.pressure ?? []) {
      t.pressure.add([
        n, time, p.resource, p.some.avg10, p.some.avg60, p.some.avg300, p.some.totalSeconds, p.somePercent ?? null,
        p.full?.avg10 ?? null, p.full?.avg60 ?? null, p.full?.avg300 ?? null, p.full?.totalSeconds ?? null, p.fullPercent ?? null,
      ]);
    }
    for (const g of r.nvidia ?? []) {
      t.nvidia.add([
        n, time, g.uuid, g.index, g.name, g.utilizationGpuPercent ?? null, g.utilizationMemoryPercent ?? null, g.memoryUsedBytes ?? null, g.memoryTotalBytes ?? null,
        g.temperatureCelsius ?? null, g.powerDrawWatts ?? null, g.powerLimitWatts ?? null, g.smClockMhz ?? null, g.memClockMhz ?? null, g.throttleReasons ?? null,
      ]);
    }
    for (const g of r.tegraGpu ?? []) {
      t.tegraGpu.add([n, time, g.device, g.loadPercent ?? null, g.curFreqHertz ?? null, g.minFreqHertz ?? null, g.maxFreqHertz ?? null, g.governor ?? null, g.emcFreqHertz ?? null, g.powerMode ?? null, g.powerModeId ?? null]);
    }
    if (r.power) {
      for (const x of r.power.rails) t.powerRails.add([n, time, x.rail, x.source, x.sensor, x.volts ?? null, x.amperes ?? null, x.watts ?? null, x.joulesTotal ?? null]);
      if (r.power.totalWatts !== undefined) t.power.add([n, time, r.power.totalWatts, r.power.totalOf ?? 'sum']);
    }
    if (r.clocks) {
      for (const f of r.clocks.frequencies) t.cpuFrequency.add([n, time, f.cpu, f.curHertz ?? null, f.minHertz ?? null, f.maxHertz ?? null]);
      for (const x of r.clocks.throttles) t.cpuThrottle.add([n, time, x.cpu, x.package ?? null, x.core ?? null, x.coreThrottles ?? null, x.packageThrottles ?? null, x.coreThrottlesNew ?? null]);
      if (r.clocks.rpiThrottled) t.rpiThrottled.add([n, time, r.clocks.rpiThrottled.flags, r.clocks.rpiThrottled.source]);
    }
  }
  return t;
}
