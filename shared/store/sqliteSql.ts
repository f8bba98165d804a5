/**
 * The SQL port (sql.ts) over one better-sqlite3 database. Statements are prepared once per text
 * (a bounded cache per database). SQLite has one connection per Db, so a transaction is the
 * connection's: `tx` takes the database's async mutex, then BEGIN IMMEDIATE (the busy timeout
 * applies at BEGIN, not at the first write), and every call from outside the transaction's async
 * context waits for it — including SqliteStore's own writes (`exclusive`). Code that calls
 * better-sqlite3 directly does not wait: hence sql.ts's rule, no I/O inside tx, which keeps the
 * window a few microtasks long.
 */
import type { Statement } from 'better-sqlite3';
import type { Db } from './db.js';
import { bindable, BoundedCache, currentTx, Mutex, txOf, type SqlDb, type SqlParam, type TxToken } from './sql.js';

interface State {
  mutex: Mutex;
  statements: BoundedCache<Statement>;
}
const states = new WeakMap<Db, State>();
function stateOf(db: Db): State {
  let s = states.get(db);
  if (!s) states.set(db, (s = { mutex: new Mutex(), statements: new BoundedCache<Statement>(500) }));
  return s;
}

/**
 * Run fn (synchronous better-sqlite3 work) when no port transaction of another async context is
 * open on `db`: SqliteStore's writes, so a round never lands inside (and is never rolled back with)
 * someone else's transaction.
 */
export async function exclusive<T>(db: Db, fn: () => T): Promise<T> {
  const st = stateOf(db);
  if (!st.mutex.held || txOf(db)) return fn();
  const release = await st.mutex.lock();
  try {
    return fn();
  } finally {
    release();
  }
}

const sqls = new WeakMap<Db, SqliteSql>();
/** The port of an open SQLite database (one per Db). */
export function sqliteSql(db: Db): SqlDb {
  let s = sqls.get(db);
  if (!s) sqls.set(db, (s = new SqliteSql(db)));
  return s;
}

class SqliteSql implements SqlDb {
  readonly dialect = 'sqlite' as const;
  readonly #st: State;

  constructor(readonly db: Db) {
    this.#st = stateOf(db);
  }

  #prepare(sql: string): Statement {
    return this.#st.statements.get(sql) ?? this.#st.statements.set(sql, this.db.prepare(sql));
  }

  all<T>(sql: string, params: readonly SqlParam[] = []): Promise<T[]> {
    return exclusive(this.db, () => this.#prepare(sql).all(...bindable(params)) as T[]);
  }

  rows(sql: string, params: readonly SqlParam[] = []): Promise<unknown[][]> {
    // Its own cache entry: raw(true) changes the statement, and `all` wants objects from the same text.
    return exclusive(this.db, () => {
      const key = `raw\0${sql}`;
      const st = this.#st.statements.get(key) ?? this.#st.statements.set(key, this.db.prepare(sql).raw(true));
      return st.all(...bindable(params)) as unknown[][];
    });
  }

  get<T>(sql: string, params: readonly SqlParam[] = []): Promise<T | undefined> {
    return exclusive(this.db, () => this.#prepare(sql).get(...bindable(params)) as T | undefined);
  }

  run(sql: string, params: readonly SqlParam[] = []): Promise<{ changes: number }> {
    return exclusive(this.db, () => ({ changes: this.#prepare(sql).run(...bindable(params)).changes }));
  }

  async tx<T>(fn: (sql: SqlDb) => Promise<T>): Promise<T> {
    const inside = txOf<Db>(this.db);
    if (inside) return this.#savepoint(inside, fn);
    const release = await this.#st.mutex.lock();
    const token: TxToken<Db> = { owner: this.db, conn: this.db, open: true, depth: 0 };
    try {
      this.#prepare('BEGIN IMMEDIATE').run();
      try {
        const out = await currentTx.run(token, () => fn(this));
        this.#prepare('COMMIT').run();
        return out;
      } catch (e) {
        if (this.db.inTransaction) this.#prepare('ROLLBACK').run();
        throw e;
      }
    } finally {
      token.open = false;
      release();
    }
  }

  async #savepoint<T>(t: TxToken<Db>, fn: (sql: SqlDb) => Promise<T>): Promise<T> {
    const name = `sp${++t.depth}`;
    this.db.exec(`SAVEPOINT ${name}`);
    try {
      const out = await fn(this);
      this.db.exec(`RELEASE ${name}`);
      return out;
    } catch (e) {
      this.db.exec(`ROLLBACK TO ${name}; RELEASE ${name}`);
      throw e;
    } finally {
      t.depth--;
    }
  }
}

/** What the domain modules take: the port, or (SQLite callers and tests) the better-sqlite3 Db it wraps. */
export type SqlOrDb = SqlDb | Db;
export const asSql = (x: SqlOrDb): SqlDb => ('dialect' in x ? x : sqliteSql(x));
