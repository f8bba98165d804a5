import type Database from 'better-sqlite3';
import { mkdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { userInfo } from 'node:os';
import { basename, dirname } from 'node:path';
import { MIGRATIONS } from './migrations.js';

export type Db = Database.Database;

export interface OpenOptions {
  /** WAL lets Grafana read while we write; DELETE for a file on a network volume, where WAL is unsafe. */
  journalMode?: 'WAL' | 'DELETE';
  busyTimeoutMs?: number;
  readonly?: boolean;
}

export class StoreError extends Error {
  override name = 'StoreError';
}

/**
 * SQLite's and the file system's refusals in the user's words: the path, what edgefleet needs
 * there, and how to give it. (SQLite's own "unable to open database file" names no file.)
 */
function storeError(path: string, e: unknown): StoreError {
  const err = e as Error & { code?: string };
  const fix = `give user ${userInfo().username} write access, or set --db / EDGEFLEET_DB (db: in edgefleet.yaml) to a writable path`;
  const dir = dirname(path);
  let message = `database ${path}: ${err.message}`;
  if (err.code === 'EACCES' || err.code === 'EROFS') message = `cannot create the database folder ${dir} (${err.code}): ${fix}`;
  else if (err.code === 'SQLITE_CANTOPEN' || /unable to open database file/.test(err.message)) {
    message = `cannot open database ${path} (unable to open database file): edgefleet writes the file and creates ${basename(path)}-wal and ${basename(path)}-shm beside it in ${dir}; ${fix}`;
  } else if (err.code?.startsWith('SQLITE_READONLY') || /readonly database/.test(err.message)) {
    message = `database ${path} is read-only (${err.message}): ${fix}`;
  } else if (err.code === 'SQLITE_NOTADB' || /not a database/.test(err.message)) {
    message = `${path} is not an SQLite database (${err.message}): point --db / EDGEFLEET_DB at edgefleet's database, or at a new path`;
  }
  return new StoreError(message, { cause: e });
}

/** Open (creating the file and its folder when missing) and migrate to the latest schema. */
export function openDb(path: string, opts: OpenOptions = {}): Db {
  try {
    return open(path, opts);
  } catch (e) {
    if (e instanceof StoreError) throw e;
    throw storeError(path, e);
  }
}

/**
 * better-sqlite3 is a native module, loaded on the first SQLite open: a process whose store is
 * PostgreSQL (a Lambda) never loads it, and the Lambda bundle (contrib/serverless-bundle.cjs)
 * leaves it out.
 */
let sqlite: typeof Database | undefined;
function loadSqlite(path: string): typeof Database {
  try {
    return (sqlite ??= createRequire(import.meta.url)('better-sqlite3') as typeof Database);
  } catch (e) {
    if ((e as { code?: string }).code !== 'MODULE_NOT_FOUND') throw e;
    throw new StoreError(`database ${path}: this build has no SQLite (better-sqlite3 is not installed; the Lambda bundle leaves it out): set EDGEFLEET_DB / store.url to a postgres:// URL`, { cause: e });
  }
}

function open(path: string, opts: OpenOptions): Db {
  const Sqlite = loadSqlite(path);
  if (path !== ':memory:' && !opts.readonly) mkdirSync(dirname(path), { recursive: true });
  const db = new Sqlite(path, { readonly: opts.readonly ?? false, fileMustExist: opts.readonly ?? false });
  try {
    return prepare(db, opts);
  } catch (e) {
    db.close();
    throw e;
  }
}

function prepare(db: Db, opts: OpenOptions): Db {
  db.pragma(`busy_timeout = ${Math.max(0, Math.trunc(opts.busyTimeoutMs ?? 5000))}`);
  if (!opts.readonly) {
    db.pragma(`journal_mode = ${opts.journalMode === 'DELETE' ? 'DELETE' : 'WAL'}`);
    // NORMAL is durable across an application crash in WAL mode and much cheaper than FULL.
    db.pragma('synchronous = NORMAL');
    db.pragma('foreign_keys = ON');
    // Rounds append at the end of every node's range in every table: a few thousand hot pages.
    // The default 2 MB cache thrashes on them once the file outgrows it.
    db.pragma('cache_size = -65536');
    // Each round rewrites those hot pages; checkpointing every 1000 pages (the default) copies
    // and fsyncs them back almost every round. 10000 pages (40 MB of WAL) halves the write cost.
    if (opts.journalMode !== 'DELETE') db.pragma('wal_autocheckpoint = 10000');
    migrate(db);
  }
  return db;
}

export function schemaVersion(db: Db): number {
  return db.pragma('user_version', { simple: true }) as number;
}

/** Bring the schema up to date, one migration per transaction. Returns the versions applied. */
export function migrate(db: Db, migrations: readonly string[] = MIGRATIONS): number[] {
  const applied: number[] = [];
  const current = schemaVersion(db);
  if (current > migrations.length) {
    throw new StoreError(`database schema version ${current} is newer than this edgefleet knows (${migrations.length}): upgrade edgefleet`);
  }
  for (let v = current + 1; v <= migrations.length; v++) {
    db.transaction(() => {
      db.exec(migrations[v - 1]!);
      db.pragma(`user_version = ${v}`);
    }).immediate();
    applied.push(v);
  }
  return applied;
}
