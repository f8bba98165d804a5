/**
 * The Store (store.ts) over one SQLite database: today's functions, called as they always were
 * (same statements, same transactions), behind the async interface. One per open database.
 */
import type { MetricKind, NodeSpec } from '../domain/index.js';
import { schemaVersion, type Db } from './db.js';
import { latestReadings } from './latest.js';
import { listNodes, recordOutcomes, syncNodes } from './nodes.js';
import { loadCounterStates, readingsWriter } from './readings.js';
import { applyRetention, type RetentionDays } from './retention.js';
import { updateRollups } from './rollups.js';
import type { RoundWrite } from './roundBuffer.js';
import type { SqlDb } from './sql.js';
import { exclusive, sqliteSql } from './sqliteSql.js';
import { CLAIM_PERIOD_SQL, type Lease, type Store } from './store.js';

export class SqliteStore implements Store {
  readonly kind = 'sqlite' as const;
  readonly where: string;
  readonly sql: SqlDb;

  constructor(readonly sqlite: Db) {
    this.where = sqlite.name;
    this.sql = sqliteSql(sqlite);
  }

  async schemaVersion() {
    return schemaVersion(this.sqlite);
  }

  async syncNodes(specs: readonly NodeSpec[], nowUnixSeconds: number, opts: { keepVars?: readonly string[] } = {}) {
    return exclusive(this.sqlite, () => syncNodes(this.sqlite, specs, nowUnixSeconds, opts));
  }

  async listNodes(opts: { includeRemoved?: boolean } = {}) {
    return listNodes(this.sqlite, opts);
  }

  async loadCounterStates(kinds: readonly MetricKind[]) {
    return loadCounterStates(this.sqlite, kinds);
  }

  /**
   * One IMMEDIATE transaction; a lock is waited for at most `lockWaitMs` (the busy timeout of this
   * try). Never inside another caller's open SQL-port transaction (sqliteSql.ts exclusive). With
   * `alsoInTransaction` (remote write) the transaction is the port's own (sqliteSql.ts tx): the
   * rows synchronously, then the hook's statements on the port, then COMMIT.
   */
  async writeRound(r: RoundWrite, opts: { lockWaitMs?: number } = {}): Promise<number> {
    const db = this.sqlite;
    const busyTimeoutMs = Number(db.pragma('busy_timeout', { simple: true })) || 0;
    if (opts.lockWaitMs !== undefined) db.pragma(`busy_timeout = ${Math.min(opts.lockWaitMs, busyTimeoutMs)}`);
    try {
      if (!r.alsoInTransaction) return await exclusive(db, () => this.#writeRound(r));
      const hook = r.alsoInTransaction;
      try {
        return await this.sql.tx(async (sql) => {
          const id = this.#writeRound(r);
          await hook(sql);
          return id;
        });
      } catch (e) {
        // Rolled back whole: what the writer remembers as stored may not be.
        readingsWriter(db).forgetWritten();
        throw e;
      }
    } finally {
      if (opts.lockWaitMs !== undefined) db.pragma(`busy_timeout = ${busyTimeoutMs}`);
    }
  }

  /** The round's rows (a savepoint when a transaction is open already). */
  #writeRound(r: RoundWrite): number {
    const db = this.sqlite;
    const writer = readingsWriter(db);
    try {
      // Nested transactions are savepoints: the sync, readings, runs and outcomes land together.
      return db.transaction(() => {
        if (r.sync) syncNodes(db, r.sync.specs, r.timeUnixSeconds, { keepVars: r.sync.keepVars });
        return writer.writeRound(r.readings, r.counters, r.runs, () => recordOutcomes(db, r.outcomes, r.timeUnixSeconds), {
          timeUnixSeconds: r.timeUnixSeconds,
          startedUnixMs: r.startedUnixMs,
          kinds: r.kinds,
          nodes: r.outcomes.length,
        });
      }).immediate();
    } catch (e) {
      writer.forgetWritten();
      throw e;
    }
  }

  async lastRoundUnixSeconds() {
    return (this.sqlite.prepare('SELECT MAX(time) AS t FROM rounds').get() as { t: number | null }).t;
  }

  async latestReadings() {
    return latestReadings(this.sqlite);
  }

  updateRollups(nowUnixSeconds: number) {
    return updateRollups(this.sqlite, nowUnixSeconds);
  }

  applyRetention(days: RetentionDays, nowUnixSeconds: number) {
    return applyRetention(this.sqlite, days, nowUnixSeconds);
  }

  async tryLease(name: string, owner: string, ttlMs: number): Promise<boolean> {
    const now = Date.now();
    const r = await exclusive(this.sqlite, () => this.sqlite
      .prepare(
        `INSERT INTO leases (name, owner, expires_unix_ms, acquired_unix_ms) VALUES (@name, @owner, @until, @now)
         ON CONFLICT (name) DO UPDATE SET owner = excluded.owner, expires_unix_ms = excluded.expires_unix_ms,
           acquired_unix_ms = CASE WHEN leases.owner = excluded.owner THEN leases.acquired_unix_ms ELSE excluded.acquired_unix_ms END
         WHERE leases.owner = excluded.owner OR leases.expires_unix_ms < @now`,
      )
      .run({ name, owner, until: now + ttlMs, now }));
    return r.changes === 1;
  }

  async releaseLease(name: string, owner: string): Promise<void> {
    await exclusive(this.sqlite, () => this.sqlite.prepare('DELETE FROM leases WHERE name = ? AND owner = ?').run(name, owner));
  }

  async claimPeriod(job: string, period: number, owner: string): Promise<boolean> {
    const claim = () => this.sqlite.prepare(CLAIM_PERIOD_SQL.replace(/\$\d/g, '?')).run(job, period, owner, Date.now());
    return (await exclusive(this.sqlite, claim)).changes === 1;
  }

  async finishPeriod(job: string, period: number, owner: string): Promise<void> {
    const finish = () => this.sqlite.prepare('UPDATE job_runs SET finished_unix_ms = ? WHERE job = ? AND period_unix_seconds = ? AND owner = ?').run(Date.now(), job, period, owner);
    await exclusive(this.sqlite, finish);
  }

  async leases(prefix = ''): Promise<Lease[]> {
    return this.sqlite
      .prepare(`SELECT name, owner, expires_unix_ms AS expiresUnixMs FROM leases WHERE substr(name, 1, length(?)) = ? ORDER BY name`)
      .all(prefix, prefix) as Lease[];
  }

  async close(): Promise<void> {
    this.sqlite.close();
  }
}

const stores = new WeakMap<Db, SqliteStore>();
/** The one Store of an open SQLite database. */
export function sqliteStore(db: Db): SqliteStore {
  let s = stores.get(db);
  if (!s) stores.set(db, (s = new SqliteStore(db)));
  return s;
}

/** A Store, or an open SQLite database (the callers not moved to the Store yet, tests). */
export type StoreOrDb = Store | Db;
/** The Store of either: a SQLite Db gets its one SqliteStore. */
export function asStore(x: StoreOrDb): Store {
  return 'sql' in x && 'kind' in x ? x : sqliteStore(x as Db);
}
