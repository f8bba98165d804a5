/**
 * PostgreSQL as the store (`db` / `store.url` = postgres://…): a connection pool (node-postgres,
 * `pg`, picked by bench/pgDriver.ts), migrations from the one list in migrations.ts translated by
 * pgDialect.ts, and the daily partitions of the time-series tables (pgPartitions.ts).
 *
 * Every statement has a deadline (statement_timeout on the server, query_timeout in the client,
 * connectionTimeoutMillis for the connect), so a database that hangs fails the call that waits
 * on it. The password comes from the URL, `store.password` (which may be `ssm:/path`), or
 * PGPASSWORD; it is never logged: errors name the URL without it.
 */
import pg from 'pg';
import { MIGRATIONS } from './migrations.js';
import { postgresMigration } from './pgDialect.js';
import { ensurePartitions, knownPartitionDays } from './pgPartitions.js';
import { redactUrl } from './pgUrl.js';

export { isPostgresUrl, redactUrl } from './pgUrl.js';

export class PgStoreError extends Error {
  override name = 'StoreError';
}

// BIGINT (counts, ids, bytes) and NUMERIC (AVG/SUM of integers) as JS numbers: every value
// edgefleet stores fits in 2^53, and the SQLite side hands back numbers too.
pg.types.setTypeParser(20, (v) => Number(v));
pg.types.setTypeParser(1700, (v) => Number(v));

export interface PgOptions {
  password?: string;
  poolMax?: number;
  statementTimeoutMs?: number;
  connectTimeoutMs?: number;
  /** Who holds leases (hub id); default host:pid. */
  applicationName?: string;
}

/** Lock id of pg_advisory_lock for migrations (pgPartitions.ts has the next one). */
export const ADVISORY = { migrate: 720_020_001 } as const;

export type PgClient = pg.PoolClient;

export class PgDb {
  readonly kind = 'postgres' as const;
  /** The partition days (UTC midnights, unix seconds) known to exist: a cache, creation is idempotent. */
  readonly partitionDays = new Set<number>();
  #closed = false;

  constructor(
    readonly pool: pg.Pool,
    /** Without the password. */
    readonly where: string,
  ) {}

  async query<R extends pg.QueryResultRow = Record<string, unknown>>(sql: string, params: unknown[] = []): Promise<R[]> {
    try {
      return (await this.pool.query<R>(sql, params)).rows;
    } catch (e) {
      throw this.error(e);
    }
  }

  /** fn inside BEGIN … COMMIT on one connection; rolled back when it throws. */
  async tx<T>(fn: (c: PgClient) => Promise<T>): Promise<T> {
    let c: PgClient;
    try {
      c = await this.pool.connect();
    } catch (e) {
      throw this.error(e);
    }
    // A connection whose ROLLBACK fails (a client deadline passed mid-COPY, the server gone) is
    // closed, not handed to the next caller in an unknown state.
    let broken = false;
    try {
      await c.query('BEGIN');
      const out = await fn(c);
      await c.query('COMMIT');
      return out;
    } catch (e) {
      broken = await c.query('ROLLBACK').then(() => false, () => true);
      throw this.error(e);
    } finally {
      c.release(broken);
    }
  }

  /** A driver error with the database named (never its password), its SQLSTATE kept as `code`. */
  error(e: unknown): Error {
    if (e instanceof PgStoreError) return e;
    const err = e as Error & { code?: string };
    const out = new PgStoreError(`PostgreSQL ${this.where}: ${err.message}`, { cause: e });
    (out as { code?: string }).code = err.code;
    return out;
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.pool.end();
  }
}

/** Open a pool to `url`, check it answers, bring the schema up to date and create the partitions ahead. */
export async function openPg(url: string, opts: PgOptions = {}): Promise<PgDb> {
  const where = redactUrl(url);
  const statementTimeoutMs = opts.statementTimeoutMs ?? 60_000;
  const pool = new pg.Pool({
    connectionString: url,
    ...(opts.password ? { password: opts.password } : {}),
    max: opts.poolMax ?? 8,
    connectionTimeoutMillis: opts.connectTimeoutMs ?? 10_000,
    // The client's own deadline a little after the server's, for a server that stops answering.
    query_timeout: statementTimeoutMs + 5000,
    statement_timeout: statementTimeoutMs,
    idle_in_transaction_session_timeout: statementTimeoutMs,
    idleTimeoutMillis: 30_000,
    application_name: opts.applicationName ?? 'edgefleet',
  });
  // An idle connection the server drops must not crash the process: the next query reconnects.
  pool.on('error', () => undefined);
  const db = new PgDb(pool, where);
  try {
    await db.query('SELECT 1');
    await migratePg(db);
    for (const d of await knownPartitionDays(db)) db.partitionDays.add(d);
    const now = Math.floor(Date.now() / 1000);
    await ensurePartitions(db, now - 86400, now + 2 * 86400);
  } catch (e) {
    await pool.end().catch(() => undefined);
    const err = e as Error & { code?: string };
    if (err.code === 'ECONNREFUSED' || err.code === 'ENOTFOUND' || /timeout/i.test(err.message)) {
      throw new PgStoreError(`cannot reach PostgreSQL at ${where} (${err.code ?? err.message}): check the host and port in db / store.url`, { cause: e });
    }
    if (err.code === '28P01' || err.code === '28000') {
      throw new PgStoreError(`PostgreSQL ${where} refused the login (${err.message}): set the password in the URL, store.password (or ssm:/path) or PGPASSWORD`, { cause: e });
    }
    if (err.code === '3D000') throw new PgStoreError(`PostgreSQL ${where}: ${err.message} (create it: createdb, or CREATE DATABASE)`, { cause: e });
    throw db.error(e);
  }
  return db;
}

export async function pgSchemaVersion(db: PgDb): Promise<number> {
  const [t] = await db.query<{ t: string | null }>("SELECT to_regclass('edgefleet_schema')::text AS t");
  if (!t?.t) return 0;
  return (await db.query<{ version: number }>('SELECT version FROM edgefleet_schema'))[0]?.version ?? 0;
}

/**
 * Bring the schema up to date: one migration per transaction (PostgreSQL's DDL is transactional,
 * so a failed one leaves the old schema whole), all under an advisory lock, so hubs starting
 * together migrate once. Returns the versions applied.
 */
export async function migratePg(db: PgDb, migrations: readonly string[] = MIGRATIONS): Promise<number[]> {
  const c = await db.pool.connect();
  const applied: number[] = [];
  try {
    await c.query('SELECT pg_advisory_lock($1)', [ADVISORY.migrate]);
    await c.query('CREATE TABLE IF NOT EXISTS edgefleet_schema (version INTEGER NOT NULL)');
    const rows = (await c.query<{ version: number }>('SELECT version FROM edgefleet_schema')).rows;
    if (rows.length === 0) await c.query('INSERT INTO edgefleet_schema (version) VALUES (0)');
    const current = rows[0]?.version ?? 0;
    if (current > migrations.length) {
      throw new PgStoreError(`database schema version ${current} is newer than this edgefleet knows (${migrations.length}): upgrade edgefleet`);
    }
    for (let v = current + 1; v <= migrations.length; v++) {
      try {
        await c.query('BEGIN');
        await c.query(postgresMigration(migrations[v - 1]!, v));
        await c.query('UPDATE edgefleet_schema SET version = $1', [v]);
        await c.query('COMMIT');
      } catch (e) {
        await c.query('ROLLBACK').catch(() => undefined);
        throw new PgStoreError(`PostgreSQL ${db.where}: migration ${v} failed: ${(e as Error).message}`, { cause: e });
      }
      applied.push(v);
    }
  } finally {
    await c.query('SELECT pg_advisory_unlock($1)', [ADVISORY.migrate]).catch(() => undefined);
    c.release();
  }
  return applied;
}
