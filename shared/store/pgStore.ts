/**
 * The Store (store.ts) on PostgreSQL: many hubs and Lambda invocations writing one database.
 * A round is one transaction: the readings by binary COPY, a table a statement (pgRound.ts; an
 * upsert, `INSERT … SELECT FROM unnest(…) ON CONFLICT DO UPDATE`, when a row of the same second
 * is already stored), so a round of a thousand nodes is a handful of statements whatever its
 * row count. Same semantics as the SQLite side: a reading keyed by second is replaced by a later
 * one, collector runs are keyed by round. Rollups and retention follow rollups.ts and
 * retention.ts; retention drops whole daily partitions (pgPartitions.ts).
 */
import type { MetricKind, NodeSpec } from '../domain/index.js';
import { emptyLatest, maxOf, type LatestReadings } from './latest.js';
import { nodeRowOf, redactVars, type NodeRow, type SyncSummary } from './nodes.js';
import { openPg, pgSchemaVersion, type PgClient, type PgDb, type PgOptions } from './pg.js';
import { PARTITIONED_TABLES } from './pgDialect.js';
import { dropExpiredPartitions, ensurePartitions, type RetentionTimings } from './pgPartitions.js';
import { copyOrUpsert, RoundCache, roundRows, runsBulk } from './pgRound.js';
import { RAW_TABLES, type RetentionDays } from './retention.js';
import { LATE_SECONDS, ROLLUP_LEVELS, ROLLUP_SERIES, type RollupSummary } from './rollups.js';
import type { RoundWrite } from './roundBuffer.js';
import { CLAIM_PERIOD_SQL, type Lease, type Store } from './store.js';
import { pgSql } from './pgSql.js';
import { currentTx, type SqlDb, type TxToken } from './sql.js';

const yieldToCollections = () => new Promise((r) => setImmediate(r));

export class PgStore implements Store {
  readonly kind = 'postgres' as const;
  readonly sqlite = undefined;
  readonly sql: SqlDb;

  /** Node ids and the sensor and mount rows known to be stored (pgRound.ts). */
  readonly #cache = new RoundCache();
  /** Where the last applyRetention's partition drop spent its time (bench:store prints it). */
  lastRetention: RetentionTimings = {};

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
    const times = r.readings.map((x) => x.timeUnixSeconds);
    await ensurePartitions(this.pg, Math.min(r.timeUnixSeconds, ...times), Math.max(r.timeUnixSeconds, ...times));
    const nowMs = Date.now();
    // Node ids from the cache (a name keeps its id); read again when a name is new to it or the round syncs.
    let ids = this.#cache.ids;
    const names = [...r.readings.map((x) => x.node), ...r.counters.map((x) => x.node), ...r.runs.map((x) => x.node)];
    const reread = r.sync !== undefined || names.some((n) => !ids.has(n));
    let learned: [string, string][] = [];
    const roundId = await this.pg.tx(async (c) => {
      if (opts.lockWaitMs !== undefined) await c.query(`SET LOCAL lock_timeout = ${Math.max(1, Math.trunc(opts.lockWaitMs))}`);
      if (r.sync) await syncNodesIn(c, r.sync.specs, r.timeUnixSeconds, r.sync.keepVars);
      if (reread) ids = new Map((await c.query<{ name: string; id: number }>('SELECT name, id FROM nodes')).rows.map((x) => [x.name, x.id]));
      const idOf = (name: string) => {
        const id = ids.get(name);
        if (id === undefined) throw new Error(`node ${name} is not in the nodes table: sync the inventory first`);
        return id;
      };
      const t = roundRows(r.readings, idOf);
      for (const x of r.counters) t.counters.add([idOf(x.node), x.kind, x.timeMs, JSON.stringify(x.sample)]);
      const roundId = (
        await c.query<{ id: number }>('INSERT INTO rounds (time, started_unix_ms, written_unix_ms, nodes, kinds, hub, shards) VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id', [
          r.timeUnixSeconds, r.startedUnixMs, nowMs, r.outcomes.length, r.kinds.join(','), r.hub ?? null, r.shards ?? null,
        ])
      ).rows[0]!.id;
      const runs = runsBulk();
      for (const x of r.runs) runs.add([idOf(x.node), r.timeUnixSeconds, roundId, x.kind, x.success ? 1 : 0, x.durationMs, x.rows, x.error ?? null]);
      const { sensors, mounts, counters, ...readings } = t;
      // What a sensor or mount is: only rows this process does not know are stored as they are.
      for (const b of [sensors, mounts]) {
        const unknown = this.#cache.unknownRows(b, nowMs);
        b.rows = unknown.rows;
        learned = learned.concat(unknown.learned);
        await b.upsert(c);
      }
      await counters.upsert(c);
      await copyOrUpsert(c, [...Object.values(readings), runs]);
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
      // Remote write's queue, last (its advisory lock is held from here to COMMIT): on the port, joined to this connection.
      if (r.alsoInTransaction) {
        const token: TxToken<PgClient> = { owner: this.pg, conn: c, open: true, depth: 0 };
        try {
          await currentTx.run(token, () => r.alsoInTransaction!(this.sql));
        } finally {
          token.open = false;
        }
      }
      return roundId;
    });
    this.#cache.ids = ids;
    this.#cache.remember(learned, nowMs);
    return roundId;
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
    // Issue 18 (latest.ts): the busiest GPU (Jetson or NVIDIA), the NVIDIA GPUs' power and the node's total power, newest row of each.
    for (const [table, col, key] of [
      ['tegra_gpu', 'MAX(t.load_percent)', 'gpuLoadPercent'],
      ['nvidia_gpu', 'MAX(t.utilization_gpu_percent)', 'gpuLoadPercent'],
      ['nvidia_gpu', 'SUM(t.power_draw_watts)', 'gpuPowerWatts'],
      ['power', 'MAX(t.watts)', 'powerWatts'],
    ] as const) {
      const rows = await this.pg.query<{ node: string; v: number | string | null }>(
        `SELECT n.name AS node, ${col} AS v FROM nodes n
         CROSS JOIN LATERAL (SELECT MAX(time) AS time FROM ${table} WHERE node_id = n.id) m
         JOIN ${table} t ON t.node_id = n.id AND t.time = m.time GROUP BY n.name`,
      );
      for (const v of rows) {
        const r = row(v.node);
        const x = v.v === null ? null : Number(v.v);
        r[key] = key === 'gpuLoadPercent' ? maxOf(r.gpuLoadPercent, x) : x;
      }
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
    // The partitioned tables' expired days: detached in one transaction, then dropped (pgPartitions.ts).
    const deleted: Record<string, number> = {};
    const plan: [string, number][] = [...RAW_TABLES.map((t) => [t, days.rawDays] as [string, number]), ['rollup_1m', days.rollup1mDays], ['rollup_1h', days.rollup1hDays], ['rollup_6h', days.rollup6hDays]];
    const drops = new Map<string, number>();
    for (const [table, keepDays] of plan) {
      deleted[table] = 0;
      if (keepDays > 0 && (PARTITIONED_TABLES as readonly string[]).includes(table)) drops.set(table, nowUnixSeconds - keepDays * 86400);
    }
    this.lastRetention = {};
    for (const [table, n] of await dropExpiredPartitions(this.pg, drops, this.lastRetention)) deleted[table] = n;
    for (const [table, keepDays] of plan) {
      if (!(keepDays > 0) || drops.has(table)) continue;
      // The tables that are not partitioned (the rollups above a minute) by rows.
      deleted[table] = await this.#batched(`DELETE FROM ${table} WHERE ctid = ANY(ARRAY(SELECT ctid FROM ${table} WHERE time < $1 LIMIT $2))`, [nowUnixSeconds - keepDays * 86400]);
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

// As rollups.ts: raw samples into 1-minute buckets, each coarser level from the one below — but
// each raw table read once per chunk, not once per series (SQLite seeks each node's range per
// series; PostgreSQL scans the chunk's BRIN ranges, so eight cpu series were eight scans): every
// series of a table and label aggregated in one GROUP BY, then a join with the series turns the
// columns into rows. A series with no value in a group, or outside its `where`, has count 0 and
// is left out, as the per-series statement's IS NOT NULL did (test/storeBoth: the same rollups).
function pgRawStatements(target: string, bucket: number): string[] {
  const groups = new Map<string, (typeof ROLLUP_SERIES)[number][]>();
  for (const s of ROLLUP_SERIES) groups.set(`${s.table} ${s.label}`, [...(groups.get(`${s.table} ${s.label}`) ?? []), s]);
  return [...groups.values()].map((series) => {
    const { table, label } = series[0]!;
    const v = (x: (typeof series)[number]) => (x.where ? `CASE WHEN ${x.where} THEN (${x.value}) END` : `(${x.value})`);
    const aggs = series.map((x, k) => `MIN(${v(x)}) AS min${k}, AVG(${v(x)}) AS avg${k}, MAX(${v(x)}) AS max${k}, COUNT(${v(x)}) AS n${k}`).join(', ');
    const pick = (col: string) => `CASE s.k ${series.map((_, k) => `WHEN ${k} THEN a.${col}${k}`).join(' ')} END`;
    return `INSERT INTO ${target} (node_id, series, time, label, min, avg, max, count)
      SELECT a.node_id, s.series, a.b, a.label, ${pick('min')}, ${pick('avg')}, ${pick('max')}, ${pick('n')}
      FROM (SELECT node_id, (time / ${bucket}) * ${bucket} AS b, ${label} AS label, ${aggs}
            FROM ${table} WHERE time >= $1 AND time < $2
            GROUP BY node_id, ${label === "''" ? '' : `${label}, `}time / ${bucket}) a
      CROSS JOIN (VALUES ${series.map((x, k) => `(${k}, '${x.series}')`).join(', ')}) s (k, series)
      WHERE ${pick('n')} > 0
      ON CONFLICT (node_id, series, time, label) DO UPDATE SET min = excluded.min, avg = excluded.avg, max = excluded.max, count = excluded.count`;
  });
}

// One statement for every series: the level below holds only rolled-up series, each grouped apart.
function pgRollupStatements(source: string, target: string, bucket: number): string[] {
  return [
    `INSERT INTO ${target} (node_id, series, time, label, min, avg, max, count)
      SELECT node_id, series, (time / ${bucket}) * ${bucket}, label, MIN(min), SUM(avg * count) / SUM(count), MAX(max), SUM(count)
      FROM ${source}
      WHERE series = ANY(ARRAY[${ROLLUP_SERIES.map((x) => `'${x.series}'`).join(', ')}]) AND time >= $1 AND time < $2
      GROUP BY node_id, series, label, time / ${bucket}
      ON CONFLICT (node_id, series, time, label) DO UPDATE SET min = excluded.min, avg = excluded.avg, max = excluded.max, count = excluded.count`,
  ];
}

/** Open (and migrate) a PostgreSQL store. */
export async function openPgStore(url: string, opts: PgOptions = {}): Promise<PgStore> {
  return new PgStore(await openPg(url, opts));
}
