/**
 * The Store (store.ts) on PostgreSQL: many hubs and Lambda invocations writing one database.
 * A round is one transaction; each table gets ONE statement for the whole round,
 * `INSERT … SELECT FROM unnest($1::type[], …)` (one array per column, so a round of a thousand
 * nodes is a handful of statements, whatever its row count; bench/store.ts measures it against
 * COPY). Same semantics as the SQLite side: a reading keyed by second is replaced by a later
 * one (ON CONFLICT DO UPDATE), collector runs are keyed by round. Rollups and retention follow
 * rollups.ts and retention.ts; retention drops whole daily partitions (pgPartitions.ts).
 */
import type { MetricKind, NodeSpec } from '../domain/index.js';
import { emptyLatest, type LatestReadings } from './latest.js';
import { nodeRowOf, redactVars, type NodeRow, type SyncSummary } from './nodes.js';
import { openPg, pgSchemaVersion, type PgClient, type PgDb, type PgOptions } from './pg.js';
import { dropPartitionsBefore, ensurePartitions } from './pgPartitions.js';
import type { NodeReadings } from './readings.js';
import type { RetentionDays } from './retention.js';
import { LATE_SECONDS, ROLLUP_LEVELS, ROLLUP_SERIES, type RollupSummary } from './rollups.js';
import type { RoundWrite } from './roundBuffer.js';
import { CLAIM_PERIOD_SQL, type Lease, type Store } from './store.js';
import { pgSql } from './pgSql.js';
import type { SqlDb } from './sql.js';

type Col = [name: string, type: 'bigint' | 'float8' | 'text'];

/** One table's bulk upsert: columns with their types, the key columns, and its rows as column arrays. */
class Bulk {
  readonly cols: unknown[][];
  readonly #keys = new Map<string, number>();
  constructor(
    readonly table: string,
    readonly columns: Col[],
    readonly key: string[],
    /** What a conflict does: replace the row (readings), or nothing. */
    readonly onConflict: 'update' | 'nothing' | 'updateIfChanged' = 'update',
  ) {
    this.cols = columns.map(() => []);
  }

  get size() {
    return this.cols[0]!.length;
  }

  /** Add a row; a second row with the same key in one round replaces the first (one statement may not touch a row twice). */
  add(values: unknown[]): void {
    const k = this.key.map((c) => String(values[this.columns.findIndex(([n]) => n === c)])).join('\0');
    const at = this.#keys.get(k);
    if (at !== undefined) {
      values.forEach((v, i) => (this.cols[i]![at] = v));
      return;
    }
    this.#keys.set(k, this.size);
    values.forEach((v, i) => this.cols[i]!.push(v));
  }

  sql(): string {
    const names = this.columns.map(([n]) => n);
    const others = names.filter((n) => !this.key.includes(n));
    const unnest = this.columns.map(([, t], i) => `$${i + 1}::${t}[]`).join(', ');
    let conflict = `ON CONFLICT (${this.key.join(', ')}) DO NOTHING`;
    if (this.onConflict !== 'nothing' && others.length) {
      conflict = `ON CONFLICT (${this.key.join(', ')}) DO UPDATE SET ${others.map((n) => `${n} = excluded.${n}`).join(', ')}`;
      if (this.onConflict === 'updateIfChanged') conflict += ` WHERE ${others.map((n) => `${this.table}.${n} IS DISTINCT FROM excluded.${n}`).join(' OR ')}`;
    }
    return `INSERT INTO ${this.table} (${names.join(', ')}) SELECT * FROM unnest(${unnest}) ${conflict}`;
  }

  async run(c: PgClient): Promise<void> {
    if (this.size) await c.query(this.sql(), this.cols);
  }
}

const B: 'bigint' = 'bigint';
const F: 'float8' = 'float8';
const T: 'text' = 'text';

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
  }
  return t;
}

const yieldToCollections = () => new Promise((r) => setImmediate(r));

export class PgStore implements Store {
  readonly kind = 'postgres' as const;
  readonly sqlite = undefined;
  readonly sql: SqlDb;

  constructor(readonly pg: PgDb) {
    this.sql = pgSql(pg);
  }

  get where() {
    return this.pg.where;
  }

  schemaVersion() {
    return pgSchemaVersion(this.pg);
  }

  async syncNodes(specs: readonly NodeSpec[], nowUnixSeconds: number, opts: { keepVars?: readonly string[] } = {}): Promise<SyncSummary> {
    // Nothing to change (every round of a steady fleet): no transaction, no lock.
    const before = await this.pg.query<Record<string, unknown>>('SELECT name, host, port, "user", connection, groups_json, vars_json, removed_unix_seconds FROM nodes');
    if (isSame(before, specs, opts.keepVars)) return { added: [], updated: [], removed: [], unchanged: specs.length };
    return this.pg.tx((c) => syncNodesIn(c, specs, nowUnixSeconds, opts.keepVars));
  }

  async listNodes(opts: { includeRemoved?: boolean } = {}): Promise<NodeRow[]> {
    const rows = await this.pg.query<Record<string, unknown>>(`SELECT * FROM nodes ${opts.includeRemoved ? '' : 'WHERE removed_unix_seconds IS NULL'} ORDER BY name`);
    return rows.map(nodeRowOf);
  }

  async loadCounterStates(kinds: readonly MetricKind[]) {
    const out = new Map<string, { timeMs: number; sample: unknown }>();
    if (kinds.length === 0) return out;
    const rows = await this.pg.query<{ node: string; kind: string; time_ms: number; sample_json: string }>(
      'SELECT n.name AS node, kind, time_ms, sample_json FROM counter_state c JOIN nodes n ON n.id = c.node_id WHERE kind = ANY($1)',
      [kinds],
    );
    for (const r of rows) out.set(`${r.node}\0${r.kind}`, { timeMs: r.time_ms, sample: JSON.parse(r.sample_json) });
    return out;
  }

  /**
   * One round, one transaction. `lockWaitMs` becomes the transaction's lock_timeout: a lock held
   * elsewhere fails this try with 55P03 (the round buffer retries) instead of waiting past the round.
   */
  async writeRound(r: RoundWrite, opts: { lockWaitMs?: number } = {}): Promise<number> {
    if (r.alsoInTransaction) throw new Error('BUG: alsoInTransaction (remote write) is SQLite-only');
    const times = r.readings.map((x) => x.timeUnixSeconds);
    await ensurePartitions(this.pg, Math.min(r.timeUnixSeconds, ...times), Math.max(r.timeUnixSeconds, ...times));
    const nowMs = Date.now();
    return this.pg.tx(async (c) => {
      if (opts.lockWaitMs !== undefined) await c.query(`SET LOCAL lock_timeout = ${Math.max(1, Math.trunc(opts.lockWaitMs))}`);
      if (r.sync) await syncNodesIn(c, r.sync.specs, r.timeUnixSeconds, r.sync.keepVars);
      const ids = new Map((await c.query<{ name: string; id: number }>('SELECT name, id FROM nodes')).rows.map((x) => [x.name, x.id]));
      const idOf = (name: string) => {
        const id = ids.get(name);
        if (id === undefined) throw new Error(`node ${name} is not in the nodes table: sync the inventory first`);
        return id;
      };
      const t = roundRows(r.readings, idOf);
      for (const x of r.counters) t.counters.add([idOf(x.node), x.kind, x.timeMs, JSON.stringify(x.sample)]);
      for (const b of Object.values(t)) await b.run(c);
      const roundId = (
        await c.query<{ id: number }>('INSERT INTO rounds (time, started_unix_ms, written_unix_ms, nodes, kinds, hub, shards) VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id', [
          r.timeUnixSeconds, r.startedUnixMs, nowMs, r.outcomes.length, r.kinds.join(','), r.hub ?? null, r.shards ?? null,
        ])
      ).rows[0]!.id;
      if (r.runs.length) {
        const runs = new Bulk(
          'collector_runs',
          [['node_id', B], ['time', B], ['round_id', B], ['kind', T], ['success', B], ['duration_ms', F], ['rows', B], ['error', T]],
          ['node_id', 'time', 'round_id', 'kind'],
        );
        for (const x of r.runs) runs.add([idOf(x.node), r.timeUnixSeconds, roundId, x.kind, x.success ? 1 : 0, x.durationMs, x.rows, x.error ?? null]);
        await runs.run(c);
      }
      if (r.outcomes.length) {
        await c.query(
          `UPDATE nodes SET status = o.status,
             last_seen_unix_seconds = COALESCE(o.seen, nodes.last_seen_unix_seconds),
             last_error = COALESCE(o.error, nodes.last_error),
             last_error_unix_seconds = CASE WHEN o.error IS NULL THEN nodes.last_error_unix_seconds ELSE $5 END
           FROM unnest($1::text[], $2::text[], $3::bigint[], $4::text[]) AS o(name, status, seen, error)
           WHERE nodes.name = o.name AND nodes.removed_unix_seconds IS NULL`,
          [r.outcomes.map((o) => o.name), r.outcomes.map((o) => o.status), r.outcomes.map((o) => o.seenUnixSeconds ?? null), r.outcomes.map((o) => o.error ?? null), r.timeUnixSeconds],
        );
        // SSM nodes: the agent as SSM described it this round (nodes.ts recordOutcomes).
        const agents = r.outcomes.filter((o) => o.ssmAgent);
        if (agents.length) {
          await c.query(
            `UPDATE nodes SET ssm_agent_version = a.version, ssm_platform_name = a.platform, ssm_platform_version = a.platform_version, ssm_ping_status = a.ping, ssm_last_ping_unix_seconds = a.last_ping
             FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::bigint[]) AS a(name, version, platform, platform_version, ping, last_ping)
             WHERE nodes.name = a.name AND nodes.removed_unix_seconds IS NULL`,
            [
              agents.map((o) => o.name), agents.map((o) => o.ssmAgent!.agentVersion ?? null), agents.map((o) => o.ssmAgent!.platformName ?? null),
              agents.map((o) => o.ssmAgent!.platformVersion ?? null), agents.map((o) => o.ssmAgent!.pingStatus ?? null), agents.map((o) => o.ssmAgent!.lastPingUnixSeconds ?? null),
            ],
          );
        }
      }
      return roundId;
    });
  }

  async lastRoundUnixSeconds(): Promise<number | null> {
    return (await this.pg.query<{ t: number | null }>('SELECT MAX(time) AS t FROM rounds'))[0]?.t ?? null;
  }

  /** latest.ts latestReadings, in PostgreSQL: the same fields, from the same rows. */
  async latestReadings(): Promise<Map<string, LatestReadings>> {
    const out = new Map<string, LatestReadings>();
    const row = (node: string) => {
      let r = out.get(node);
      if (!r) {
        r = emptyLatest(node);
        out.set(node, r);
      }
      return r;
    };
    type Kind = keyof LatestReadings['readUnixSeconds'];
    // Per node, its newest time in the table (a backward index scan per node), then that time's rows.
    const read = async (table: Kind, select: string, set: (r: LatestReadings, v: Record<string, number | string | null>) => void, where = '') => {
      const rows = await this.pg.query<Record<string, number | string | null>>(
        `SELECT n.name AS node, m.time AS time, ${select} FROM nodes n
         CROSS JOIN LATERAL (SELECT MAX(time) AS time FROM ${table} WHERE node_id = n.id) m
         JOIN ${table} t ON t.node_id = n.id AND t.time = m.time ${where} GROUP BY n.name, m.time`,
      );
      for (const v of rows) {
        const r = row(v.node as string);
        set(r, v);
        r.readUnixSeconds[table] = v.time as number;
      }
    };
    await read('temperature', 'MAX(celsius) AS v', (r, v) => (r.maxCelsius = v.v as number));
    await read('cpu', 'MAX(usage_percent) AS v', (r, v) => (r.cpuUsagePercent = v.v as number), "AND t.cpu = 'all'");
    await read('load', 'MAX(load1) AS v', (r, v) => (r.load1 = v.v as number));
    await read('memory', 'MAX(used_percent) AS v', (r, v) => (r.memoryUsedPercent = v.v as number));
    await read('storage', 'MAX(used_percent) AS v', (r, v) => (r.fullestDiskPercent = v.v as number));
    await read('network', 'SUM(rx_bytes_per_second) AS rx, SUM(tx_bytes_per_second) AS tx', (r, v) => {
      r.rxBytesPerSecond = v.rx as number | null;
      r.txBytesPerSecond = v.tx as number | null;
    });
    // Issue 18 (latest.ts): the Jetson GPU's load and the node's total power, newest row of each.
    for (const [table, col, key] of [['tegra_gpu', 'MAX(t.load_percent)', 'gpuLoadPercent'], ['power', 'MAX(t.watts)', 'powerWatts']] as const) {
      const rows = await this.pg.query<{ node: string; v: number | string | null }>(
        `SELECT n.name AS node, ${col} AS v FROM nodes n
         CROSS JOIN LATERAL (SELECT MAX(time) AS time FROM ${table} WHERE node_id = n.id) m
         JOIN ${table} t ON t.node_id = n.id AND t.time = m.time GROUP BY n.name`,
      );
      for (const v of rows) row(v.node)[key] = v.v === null ? null : Number(v.v);
    }
    const rounds = await this.pg.query<{ node: string; status: string; seen: number | null; round: number | null; temp: number | null; sensors: boolean }>(
      `SELECT n.name AS node, n.status, n.last_seen_unix_seconds AS seen,
         (SELECT time FROM collector_runs WHERE node_id = n.id ORDER BY time DESC, round_id DESC LIMIT 1) AS round,
         (SELECT success + 2 * (rows > 0)::int FROM collector_runs WHERE node_id = n.id AND kind = 'temperature' ORDER BY time DESC, round_id DESC LIMIT 1) AS temp,
         EXISTS (SELECT 1 FROM temperature_sensors WHERE node_id = n.id) AS sensors
       FROM nodes n`,
    );
    for (const x of rounds) {
      if (x.round === null) continue;
      const r = row(x.node);
      r.roundUnixSeconds = x.round;
      // temp: bit 0 the collection succeeded, bit 1 it gave rows (as latest.ts).
      r.noTemperatureSensors = x.temp === 1 || (x.status === 'unreachable' && x.temp === 0 && !x.sensors && x.seen !== null && r.maxCelsius === null);
    }
    return out;
  }

  /** rollups.ts updateRollups, in PostgreSQL: the same levels, series, watermarks and final-bucket rule. */
  async updateRollups(nowUnixSeconds: number): Promise<RollupSummary[]> {
    const out: RollupSummary[] = [];
    let doneBelow = nowUnixSeconds - LATE_SECONDS;
    for (const lvl of ROLLUP_LEVELS) {
      const end = Math.floor(doneBelow / lvl.bucketSeconds) * lvl.bucketSeconds;
      const below = ROLLUP_LEVELS[ROLLUP_LEVELS.indexOf(lvl) - 1];
      const startRaw = (await this.#watermark(lvl.level)) ?? (below ? await this.#oldest([below.table]) : await this.#oldest([...new Set(ROLLUP_SERIES.map((s) => s.table))]));
      const summary: RollupSummary = { level: lvl.level, fromUnixSeconds: 0, toUnixSeconds: 0, buckets: 0, rows: 0 };
      if (startRaw !== undefined) {
        const start = Math.floor(startRaw / lvl.bucketSeconds) * lvl.bucketSeconds;
        summary.fromUnixSeconds = start;
        summary.toUnixSeconds = Math.max(start, end);
        const statements = below ? pgRollupStatements(below.table, lvl.table, lvl.bucketSeconds) : pgRawStatements(lvl.table, lvl.bucketSeconds);
        // An hour per transaction (or a whole bucket), each its own: a catch-up never holds the writers long.
        const chunk = Math.max(lvl.bucketSeconds, 3600);
        for (let from = start; from < end; ) {
          const to = Math.min(end, from + chunk);
          if (lvl.level === '1m') await ensurePartitions(this.pg, from, to);
          await this.pg.tx(async (c) => {
            for (const sql of statements) summary.rows += (await c.query(sql, [from, to])).rowCount ?? 0;
            await c.query(
              'INSERT INTO rollup_state (level, done_until_unix_seconds) VALUES ($1, $2) ON CONFLICT (level) DO UPDATE SET done_until_unix_seconds = excluded.done_until_unix_seconds',
              [lvl.level, to],
            );
          });
          summary.buckets += (to - from) / lvl.bucketSeconds;
          from = to;
          await yieldToCollections();
        }
      }
      out.push(summary);
      doneBelow = (await this.#watermark(lvl.level)) ?? 0;
    }
    return out;
  }

  async #watermark(level: string): Promise<number | undefined> {
    return (await this.pg.query<{ t: number }>('SELECT done_until_unix_seconds AS t FROM rollup_state WHERE level = $1', [level]))[0]?.t;
  }

  /** The oldest sample of the tables (one index seek per node and table). */
  async #oldest(tables: string[]): Promise<number | undefined> {
    const sql = `SELECT MIN(t) AS t FROM (${tables.map((t) => `SELECT (SELECT MIN(time) FROM ${t} WHERE node_id = n.id) AS t FROM nodes n`).join(' UNION ALL ')}) x`;
    return (await this.pg.query<{ t: number | null }>(sql))[0]?.t ?? undefined;
  }

  /**
   * retention.ts applyRetention's plan, in PostgreSQL: the partitioned tables lose whole days
   * (a day is dropped once it lies wholly before the cutoff, so up to a day more is kept); the
   * others are deleted by rows in batches as on SQLite.
   */
  async applyRetention(days: RetentionDays, nowUnixSeconds: number): Promise<Record<string, number>> {
    const deleted: Record<string, number> = {};
    const raw = ['temperature', 'cpu', 'load', 'memory', 'storage', 'network', 'diskio', 'inodes', 'pressure', 'nvidia_gpu', 'collector_runs'];
    const plan: [string, number][] = [...raw.map((t) => [t, days.rawDays] as [string, number]), ['rollup_1m', days.rollup1mDays], ['rollup_1h', days.rollup1hDays], ['rollup_6h', days.rollup6hDays]];
    for (const [table, keepDays] of plan) {
      deleted[table] = 0;
      if (!(keepDays > 0)) continue;
      const cutoff = nowUnixSeconds - keepDays * 86400;
      if (table === 'rollup_1h' || table === 'rollup_6h') deleted[table] = await this.#batched(`DELETE FROM ${table} WHERE ctid = ANY(ARRAY(SELECT ctid FROM ${table} WHERE time < $1 LIMIT $2))`, [cutoff]);
      else deleted[table] = await dropPartitionsBefore(this.pg, table, cutoff);
    }
    if (days.rawDays > 0) {
      const cutoff = nowUnixSeconds - days.rawDays * 86400;
      deleted.rounds = await this.#batched('DELETE FROM rounds WHERE id IN (SELECT id FROM rounds WHERE time < $1 LIMIT $2)', [cutoff]);
      deleted.detector_state = await this.#batched(
        'DELETE FROM detector_state WHERE (node_id, series, label) IN (SELECT node_id, series, label FROM detector_state WHERE cursor_unix_seconds < $1 LIMIT $2)',
        [cutoff],
      );
    }
    if ((days.anomaliesDays ?? 0) > 0) {
      const cutoff = nowUnixSeconds - days.anomaliesDays! * 86400;
      deleted.anomalies = await this.#batched('DELETE FROM anomalies WHERE id IN (SELECT id FROM anomalies WHERE end_unix_seconds IS NOT NULL AND end_unix_seconds < $1 LIMIT $2)', [cutoff]);
    }
    return deleted;
  }

  async #batched(sql: string, args: unknown[]): Promise<number> {
    let total = 0;
    for (;;) {
      const n = (await this.pg.pool.query(sql, [...args, 10_000])).rowCount ?? 0;
      total += n;
      await yieldToCollections();
      if (n < 10_000) return total;
    }
  }

  async tryLease(name: string, owner: string, ttlMs: number): Promise<boolean> {
    const rows = await this.pg.query(
      `INSERT INTO leases (name, owner, expires_unix_ms, acquired_unix_ms) VALUES ($1, $2, $3, $4)
       ON CONFLICT (name) DO UPDATE SET owner = excluded.owner, expires_unix_ms = excluded.expires_unix_ms,
         acquired_unix_ms = CASE WHEN leases.owner = excluded.owner THEN leases.acquired_unix_ms ELSE excluded.acquired_unix_ms END
       WHERE leases.owner = excluded.owner OR leases.expires_unix_ms < $4
       RETURNING owner`,
      [name, owner, Date.now() + ttlMs, Date.now()],
    );
    return rows.length === 1;
  }

  async releaseLease(name: string, owner: string): Promise<void> {
    await this.pg.query('DELETE FROM leases WHERE name = $1 AND owner = $2', [name, owner]);
  }

  async claimPeriod(job: string, period: number, owner: string): Promise<boolean> {
    const rows = await this.pg.query(`${CLAIM_PERIOD_SQL} RETURNING job`, [job, period, owner, Date.now()]);
    return rows.length === 1;
  }

  async finishPeriod(job: string, period: number, owner: string): Promise<void> {
    await this.pg.query('UPDATE job_runs SET finished_unix_ms = $1 WHERE job = $2 AND period_unix_seconds = $3 AND owner = $4', [Date.now(), job, period, owner]);
  }

  async leases(prefix = ''): Promise<Lease[]> {
    return this.pg.query<Lease>('SELECT name, owner, expires_unix_ms AS "expiresUnixMs" FROM leases WHERE starts_with(name, $1) ORDER BY name', [prefix]);
  }

  close() {
    return this.pg.close();
  }
}

const rowOf = (spec: NodeSpec, keepVars: readonly string[] | undefined) => ({
  name: spec.name,
  host: spec.host,
  port: spec.problem ? null : spec.port,
  user: spec.user ?? null,
  connection: spec.connection,
  groups: JSON.stringify(spec.groups),
  vars: JSON.stringify(redactVars(spec.vars, keepVars)),
});
const differs = (old: Record<string, unknown>, row: ReturnType<typeof rowOf>) =>
  old.host !== row.host || (old.port ?? null) !== row.port || (old.user ?? null) !== row.user || old.connection !== row.connection ||
  old.groups_json !== row.groups || old.vars_json !== row.vars || old.removed_unix_seconds !== null;

function isSame(before: Record<string, unknown>[], specs: readonly NodeSpec[], keepVars?: readonly string[]): boolean {
  const byName = new Map(before.map((r) => [r.name as string, r]));
  const names = new Set(specs.map((s) => s.name));
  return specs.every((s) => {
    const old = byName.get(s.name);
    return old !== undefined && !differs(old, rowOf(s, keepVars));
  }) && before.every((r) => names.has(r.name as string) || r.removed_unix_seconds !== null);
}

/** nodes.ts syncNodes on one PostgreSQL connection inside a transaction (the nodes table locked: two hubs syncing at once take turns). */
async function syncNodesIn(c: PgClient, specs: readonly NodeSpec[], now: number, keepVars?: readonly string[]): Promise<SyncSummary> {
  const summary: SyncSummary = { added: [], updated: [], removed: [], unchanged: 0 };
  await c.query('LOCK TABLE nodes IN SHARE ROW EXCLUSIVE MODE');
  const existing = new Map((await c.query<Record<string, unknown>>('SELECT id, name, host, port, "user", connection, groups_json, vars_json, removed_unix_seconds FROM nodes')).rows.map((r) => [r.name as string, r]));
  const seen = new Set<string>();
  for (const spec of specs) {
    seen.add(spec.name);
    const row = rowOf(spec, keepVars);
    const old = existing.get(spec.name);
    const args = [row.name, row.host, row.port, row.user, row.connection, row.groups, row.vars, now];
    if (!old) {
      await c.query(
        `INSERT INTO nodes (name, host, port, "user", connection, groups_json, vars_json, status, added_unix_seconds, updated_unix_seconds) VALUES ($1, $2, $3, $4, $5, $6, $7, 'unknown', $8, $8)`,
        args,
      );
      summary.added.push(spec.name);
    } else if (differs(old, row)) {
      await c.query(
        `UPDATE nodes SET host = $2, port = $3, "user" = $4, connection = $5, groups_json = $6, vars_json = $7, updated_unix_seconds = $8, removed_unix_seconds = NULL,
           status = CASE WHEN status = 'removed' THEN 'unknown' ELSE status END WHERE name = $1`,
        args,
      );
      summary.updated.push(spec.name);
    } else {
      summary.unchanged++;
      continue;
    }
    await c.query('DELETE FROM node_groups WHERE node_id = (SELECT id FROM nodes WHERE name = $1)', [spec.name]);
    if (spec.groups.length) await c.query('INSERT INTO node_groups (node_id, grp) SELECT id, g FROM nodes, unnest($2::text[]) g WHERE name = $1 ON CONFLICT DO NOTHING', [spec.name, spec.groups]);
  }
  const gone = [...existing].filter(([name, old]) => !seen.has(name) && old.removed_unix_seconds === null).map(([name]) => name);
  if (gone.length) {
    await c.query(`UPDATE nodes SET status = 'removed', removed_unix_seconds = $1, updated_unix_seconds = $1 WHERE name = ANY($2)`, [now, gone]);
    summary.removed.push(...gone);
  }
  return summary;
}

// As rollups.ts: raw samples into 1-minute buckets, each coarser level from the one below.
function pgRawStatements(target: string, bucket: number): string[] {
  return ROLLUP_SERIES.map(
    (s) => `INSERT INTO ${target} (node_id, series, time, label, min, avg, max, count)
      SELECT node_id, '${s.series}', (time / ${bucket}) * ${bucket}, ${s.label}, MIN(${s.value}), AVG(${s.value}), MAX(${s.value}), COUNT(${s.value})
      FROM ${s.table}
      WHERE time >= $1 AND time < $2 AND (${s.value}) IS NOT NULL ${s.where ? `AND ${s.where}` : ''}
      GROUP BY node_id, ${s.label === "''" ? '' : `${s.label}, `}time / ${bucket}
      ON CONFLICT (node_id, series, time, label) DO UPDATE SET min = excluded.min, avg = excluded.avg, max = excluded.max, count = excluded.count`,
  );
}

function pgRollupStatements(source: string, target: string, bucket: number): string[] {
  return ROLLUP_SERIES.map(
    (s) => `INSERT INTO ${target} (node_id, series, time, label, min, avg, max, count)
      SELECT node_id, series, (time / ${bucket}) * ${bucket}, label, MIN(min), SUM(avg * count) / SUM(count), MAX(max), SUM(count)
      FROM ${source}
      WHERE series = '${s.series}' AND time >= $1 AND time < $2
      GROUP BY node_id, series, label, time / ${bucket}
      ON CONFLICT (node_id, series, time, label) DO UPDATE SET min = excluded.min, avg = excluded.avg, max = excluded.max, count = excluded.count`,
  );
}

/** Open (and migrate) a PostgreSQL store. */
export async function openPgStore(url: string, opts: PgOptions = {}): Promise<PgStore> {
  return new PgStore(await openPg(url, opts));
}
