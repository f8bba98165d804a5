/**
 * One async SQL port for both stores: a domain module (models.ts, deployments.ts, …) writes its
 * SQL once and runs it on SQLite (sqliteSql.ts, over better-sqlite3) or PostgreSQL (pgSql.ts,
 * over the pg pool). `store.sql` is this port on either Store.
 *
 * Placeholders are `?`, positional. PostgreSQL gets them as $1, $2, … (translated once per
 * statement text and cached); a `?` inside a '…' string, a "…" name or a comment stays as it is.
 * Parameters: numbers, strings, null; `undefined` is sent as NULL and a boolean as 1/0, on both.
 *
 * The common subset (what runs the same on SQLite 3.39+ and PostgreSQL 15):
 * - upserts as `INSERT … ON CONFLICT (key) DO UPDATE SET c = excluded.c` or `DO NOTHING`; never
 *   `INSERT OR IGNORE` / `INSERT OR REPLACE` / `REPLACE INTO`;
 * - `RETURNING` for generated ids (`INSERT … RETURNING id`), never last_insert_rowid();
 * - null-safe equality as `a IS NOT DISTINCT FROM b` (SQLite 3.39+), never SQLite's `a IS b`;
 * - `COALESCE`, never `IFNULL`; `CASE WHEN a > b THEN a ELSE b END`, never the scalar
 *   `MAX(a, b)` / `MIN(a, b)` (SQLite only) nor `GREATEST` / `LEAST` (PostgreSQL only);
 * - no `json_extract` / `->>` (store JSON as TEXT, parse it in TypeScript), no `strftime` /
 *   `datetime` / `now()` (times are unix seconds or ms passed in as parameters);
 * - `CAST(x AS BIGINT | DOUBLE PRECISION | TEXT)`, never `::type`; a parameter whose type
 *   PostgreSQL cannot infer from its place (`SELECT ? AS x`, `? IS NULL`) needs such a CAST;
 * - no boolean-valued result columns (PostgreSQL returns true/false, SQLite 1/0): write
 *   `CASE WHEN … THEN 1 ELSE 0 END`; no arrays (`= ANY(?)`): `IN (${placeholders(n)})`;
 * - no `rowid` (PostgreSQL has none): order by a key or an id column;
 * - an alias that is not all lower case is quoted (`AS "expiresUnixMs"`): PostgreSQL folds an
 *   unquoted one to lower case;
 * - integer / integer divides as integers on both; `LIKE` is case-sensitive on PostgreSQL and
 *   not on SQLite (use `=` or `lower()`); `||`, `substr`, `length`, `lower` are the same;
 * - column `user` is reserved on PostgreSQL: quote it, `"user"`.
 * Results: integer columns (BIGINT on PostgreSQL), COUNT, SUM and AVG come back as JS numbers on
 * both (pg.ts parses int8 and numeric; every value edgefleet stores fits in 2^53).
 *
 * Transactions: `tx(fn)` runs fn in one transaction (SQLite `BEGIN IMMEDIATE`, PostgreSQL
 * `BEGIN` on one pool connection), committed when fn resolves, rolled back when it throws. A `tx`
 * inside fn, or any call on the outer port from fn's async context, joins it (a nested tx is a
 * savepoint). THE RULE: no I/O inside tx — only SQL on the port and plain computation. On SQLite
 * there is one connection: while a transaction is open every other async caller waits (an
 * in-process mutex), so an SSH call or a fetch inside tx would stall every write of the hub for
 * its duration, and on PostgreSQL it would hold row locks and a pool connection as long. Read
 * what you need first, then open the transaction to write it.
 */
import { AsyncLocalStorage } from 'node:async_hooks';

export type Dialect = 'sqlite' | 'postgres';
export type SqlParam = string | number | bigint | null | undefined | boolean | Buffer;

export interface SqlDb {
  readonly dialect: Dialect;
  all<T = Record<string, unknown>>(sql: string, params?: readonly SqlParam[]): Promise<T[]>;
  get<T = Record<string, unknown>>(sql: string, params?: readonly SqlParam[]): Promise<T | undefined>;
  /**
   * Each row as an array of its columns, in the SELECT's order: no object and no key per row, for
   * a reader of thousands of rows (GET /metrics' snapshots). Column names do not matter here.
   */
  rows(sql: string, params?: readonly SqlParam[]): Promise<unknown[][]>;
  run(sql: string, params?: readonly SqlParam[]): Promise<{ changes: number }>;
  tx<T>(fn: (sql: SqlDb) => Promise<T>): Promise<T>;
}

/** `?, ?, ?` for an IN list of n values (n ≥ 1; an empty IN list is no SQL at all). */
export function placeholders(n: number): string {
  if (!(n >= 1)) throw new Error(`BUG: placeholders(${n}): an IN list needs at least one value`);
  return Array.from({ length: n }, () => '?').join(', ');
}

/** Parameters as both drivers take them: undefined as NULL, booleans as 1/0. */
export function bindable(params: readonly SqlParam[]): unknown[] {
  return params.map((p) => (p === undefined ? null : typeof p === 'boolean' ? (p ? 1 : 0) : p));
}

/** Statement texts come from the code, so a few hundred; the bound is for a caller that builds them. */
const CACHE_MAX = 1000;

/** A Map that forgets its oldest entry past `max` (insertion order). */
export class BoundedCache<V> {
  readonly #m = new Map<string, V>();
  constructor(readonly max = CACHE_MAX) {}
  get(k: string): V | undefined {
    return this.#m.get(k);
  }
  set(k: string, v: V): V {
    if (this.#m.size >= this.max) this.#m.delete(this.#m.keys().next().value!);
    this.#m.set(k, v);
    return v;
  }
  get size() {
    return this.#m.size;
  }
}

const numbered = new BoundedCache<string>();

/** `?` placeholders as PostgreSQL's `$1 … $n`, outside strings, quoted names and comments. */
export function toDollarParams(sql: string): string {
  const hit = numbered.get(sql);
  if (hit !== undefined) return hit;
  let out = '';
  let n = 0;
  for (let i = 0; i < sql.length; i++) {
    const c = sql[i]!;
    if (c === "'" || c === '"') {
      const end = closing(sql, i, c);
      out += sql.slice(i, end);
      i = end - 1;
    } else if (c === '-' && sql[i + 1] === '-') {
      const end = sql.indexOf('\n', i);
      const to = end < 0 ? sql.length : end;
      out += sql.slice(i, to);
      i = to - 1;
    } else if (c === '/' && sql[i + 1] === '*') {
      const end = sql.indexOf('*/', i + 2);
      const to = end < 0 ? sql.length : end + 2;
      out += sql.slice(i, to);
      i = to - 1;
    } else if (c === '?') out += `$${++n}`;
    else out += c;
  }
  return numbered.set(sql, out);
}

/** Index after the quote closing the one at `i` (a doubled quote is an escaped one). */
function closing(sql: string, i: number, q: string): number {
  for (let j = i + 1; j < sql.length; j++) {
    if (sql[j] !== q) continue;
    if (sql[j + 1] === q) j++;
    else return j + 1;
  }
  return sql.length;
}

/** An async mutex: callers get the lock in the order they asked. */
export class Mutex {
  #tail: Promise<void> = Promise.resolve();
  #waiting = 0;
  #held = false;

  get held() {
    return this.#held || this.#waiting > 0;
  }

  async lock(): Promise<() => void> {
    const before = this.#tail;
    let release!: () => void;
    this.#tail = new Promise<void>((r) => (release = r));
    this.#waiting++;
    await before;
    this.#waiting--;
    this.#held = true;
    let done = false;
    return () => {
      if (done) return;
      done = true;
      this.#held = false;
      release();
    };
  }
}

/** The transaction an async context is inside of: `open` until it commits or rolls back. */
export interface TxToken<C = unknown> {
  readonly owner: object;
  readonly conn: C;
  open: boolean;
  depth: number;
}

export const currentTx = new AsyncLocalStorage<TxToken>();

/** The open transaction of `owner` (a Db or PgDb) this async context runs in, if any. */
export function txOf<C>(owner: object): TxToken<C> | undefined {
  const t = currentTx.getStore();
  return t && t.owner === owner && t.open ? (t as TxToken<C>) : undefined;
}
