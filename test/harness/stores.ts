/**
 * One suite, two stores (test/storeBoth.test.ts's pattern as a helper): `eachStore(name, body)`
 * declares the suite once for SQLite (in memory) and once for a real PostgreSQL 15 started for
 * the file (test/harness/postgres.ts), skipped with the reason where there is none. `open()` gives
 * each case a fresh, migrated, empty store of that kind.
 */
import { after, before, describe } from 'node:test';
import { openDb, type Store } from '../../shared/store/index.js';
import { openPgStore } from '../../shared/store/pgStore.js';
import { sqliteStore } from '../../shared/store/sqliteStore.js';
import { postgresAvailable, startPostgres, type TestPostgres } from './postgres.js';

export interface StoreKind {
  name: 'sqlite' | 'postgres';
  open(): Promise<Store>;
  /** Two stores on one fresh database, as two hubs see it (PostgreSQL: two pools; SQLite: see below). */
  openPair(): Promise<[Store, Store]>;
  /** The cluster, on the PostgreSQL side. */
  pg(): TestPostgres;
}

let cluster: Promise<TestPostgres> | undefined;
let dbs = 0;

/** The file's PostgreSQL cluster, started on first use and stopped after the file. */
function sharedPostgres(): Promise<TestPostgres> {
  return (cluster ??= startPostgres());
}
after(async () => {
  await (await cluster?.catch(() => undefined))?.close();
});

export function eachStore(title: string, body: (k: StoreKind) => void): void {
  let pg: TestPostgres | undefined;
  const kinds: StoreKind[] = [
    {
      name: 'sqlite',
      open: async () => sqliteStore(openDb(':memory:')),
      // One SQLite file is one hub's: a second process would wait on its locks (busy_timeout), which
      // two connections in one process cannot (the wait blocks the loop the holder needs). Both
      // sides share the one connection, so what is tested is the interleaving of async callers.
      openPair: async () => {
        const s = sqliteStore(openDb(':memory:'));
        return [s, s];
      },
      pg: () => pg!,
    },
    {
      name: 'postgres',
      open: async () => openPgStore(pg!.createDatabase(`case_${process.pid}_${++dbs}`)),
      openPair: async () => {
        const url = pg!.createDatabase(`case_${process.pid}_${++dbs}`);
        return [await openPgStore(url), await openPgStore(url)];
      },
      pg: () => pg!,
    },
  ];
  for (const k of kinds) {
    const skip = k.name === 'postgres' && !postgresAvailable() ? 'no PostgreSQL 15 here' : false;
    describe(`${title}: ${k.name}`, { skip }, () => {
      if (k.name === 'postgres' && !skip) before(async () => (pg = await sharedPostgres()));
      body(k);
    });
  }
}
