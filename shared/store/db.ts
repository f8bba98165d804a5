import Database from 'better-sqlite3';
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
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

/** Open (creating the file and its folder when missing) and migrate to the latest schema. */
export function openDb(path: string, opts: OpenOptions = {}): Db {
  if (path !== ':memory:' && !opts.readonly) mkdirSync(dirname(path), { recursive: true });
  let db: Db;
  try {
    db = new Database(path, { readonly: opts.readonly ?? false, fileMustExist: opts.readonly ?? false });
  } catch (e) {
    throw new StoreError(`cannot open database ${path}: ${(e as Error).message}`, { cause: e });
  }
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
