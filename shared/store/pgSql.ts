/**
 * The SQL port (sql.ts) over the PostgreSQL pool (pg.ts): `?` translated to $n once per text,
 * each call on a pooled connection, `tx` on one connection from BEGIN to COMMIT (PgDb.tx). A call
 * on the outer port from inside a transaction's async context goes to that transaction's
 * connection, as on SQLite, so both stores see the same thing; a nested tx is a savepoint.
 * Deadlines are the pool's (statement_timeout, query_timeout); errors name the database, never
 * its password, and keep the SQLSTATE as `code`.
 */
import type { PgClient, PgDb } from './pg.js';
import { bindable, currentTx, toDollarParams, txOf, type SqlDb, type SqlParam, type TxToken } from './sql.js';

const sqls = new WeakMap<PgDb, SqlDb>();
/** The port of an open PostgreSQL pool (one per PgDb). */
export function pgSql(db: PgDb): SqlDb {
  let s = sqls.get(db);
  if (!s) sqls.set(db, (s = new PgSql(db)));
  return s;
}

class PgSql implements SqlDb {
  readonly dialect = 'postgres' as const;

  constructor(readonly db: PgDb) {}

  async #query(sql: string, params: readonly SqlParam[], rowMode?: 'array') {
    const q = { text: toDollarParams(sql), values: bindable(params), rowMode };
    const t = txOf<PgClient>(this.db);
    try {
      return t ? await t.conn.query(q) : await this.db.pool.query(q);
    } catch (e) {
      throw this.db.error(e);
    }
  }

  async all<T>(sql: string, params: readonly SqlParam[] = []): Promise<T[]> {
    return (await this.#query(sql, params)).rows as T[];
  }

  async rows(sql: string, params: readonly SqlParam[] = []): Promise<unknown[][]> {
    return (await this.#query(sql, params, 'array')).rows as unknown[][];
  }

  async get<T>(sql: string, params: readonly SqlParam[] = []): Promise<T | undefined> {
    return (await this.#query(sql, params)).rows[0] as T | undefined;
  }

  async run(sql: string, params: readonly SqlParam[] = []): Promise<{ changes: number }> {
    return { changes: (await this.#query(sql, params)).rowCount ?? 0 };
  }

  /** fn's own errors come back as thrown (only the driver's are wrapped), as on SQLite. */
  async tx<T>(fn: (sql: SqlDb) => Promise<T>): Promise<T> {
    const inside = txOf<PgClient>(this.db);
    if (inside) return this.#savepoint(inside, fn);
    const c = await this.#wrap(() => this.db.pool.connect());
    const token: TxToken<PgClient> = { owner: this.db, conn: c, open: true, depth: 0 };
    let broken = false;
    try {
      await this.#wrap(() => c.query('BEGIN'));
      const out = await currentTx.run(token, () => fn(this));
      await this.#wrap(() => c.query('COMMIT'));
      return out;
    } catch (e) {
      await c.query('ROLLBACK').catch(() => (broken = true));
      throw e;
    } finally {
      token.open = false;
      // A connection that could not roll back is closed, not handed to the next caller.
      c.release(broken);
    }
  }

  async #savepoint<T>(t: TxToken<PgClient>, fn: (sql: SqlDb) => Promise<T>): Promise<T> {
    const name = `sp${++t.depth}`;
    try {
      await this.#wrap(() => t.conn.query(`SAVEPOINT ${name}`));
      try {
        const out = await fn(this);
        await this.#wrap(() => t.conn.query(`RELEASE SAVEPOINT ${name}`));
        return out;
      } catch (e) {
        await this.#wrap(() => t.conn.query(`ROLLBACK TO SAVEPOINT ${name}`));
        throw e;
      }
    } finally {
      t.depth--;
    }
  }

  async #wrap<R>(f: () => Promise<R>): Promise<R> {
    try {
      return await f();
    } catch (e) {
      throw this.db.error(e);
    }
  }
}
