import { loadConfig, type Config } from '../config/config.js';
import { openDb, StoreError, type Db } from '../store/db.js';
import { isPostgresUrl, redactUrl } from '../store/pgUrl.js';
import { flushRoundsOnClose } from '../store/roundBuffer.js';
import { sqliteStore } from '../store/sqliteStore.js';
import type { Store } from '../store/store.js';
import { jsonLogger } from './logger.js';
import { releaseShards } from '../collect/shardLeases.js';
import { TransportPool } from '../transport/pool.js';

/**
 * Per-process caches a warm handler reuses: the open database and the SSH connections.
 * Caches only: every fact a handler needs to be right is in the store.
 */
const dbs = new Map<string, Db>();
const pools = new Map<string, TransportPool>();

export function configFromEnv(): Config {
  return loadConfig();
}

/** `store.url` when set, else `db`: a file path or a postgres:// URL. */
export function storeLocation(config: Config): string {
  return config.store.url || config.db;
}

/** The scheduled functions that work on a PostgreSQL store (the others need SQLite still, docs/postgres.md). */
export const POSTGRES_FUNCTIONS: readonly string[] = ['collectAll', 'collectTemperature', 'collectCpu', 'collectMemory', 'collectStorage', 'collectNetwork', 'collectInference', 'rollup', 'retention', 'collectModels', 'detectAnomalies', 'geolocate'];

const pgStores = new Map<string, Promise<Store>>();

/**
 * The store the config names, opened (and migrated) on first use: SQLite for a file, PostgreSQL
 * for a postgres:// URL (loaded only then: a SQLite hub never loads the driver).
 */
export function storeFor(config: Config): Promise<Store> {
  const at = storeLocation(config);
  if (!isPostgresUrl(at)) return Promise.resolve(sqliteStore(dbFor(config)));
  let s = pgStores.get(at);
  if (!s) {
    s = import('../store/pgStore.js').then((m) =>
      m.openPgStore(at, { password: config.store.password || undefined, poolMax: config.store.poolMax, statementTimeoutMs: config.store.statementTimeoutMs }),
    );
    // A failed open is not cached: the next call tries again.
    s.catch(() => pgStores.delete(at));
    pgStores.set(at, s);
  }
  return s;
}

export function dbFor(config: Config): Db {
  const at = storeLocation(config);
  if (isPostgresUrl(at)) {
    throw new StoreError(`this needs the SQLite store, and the store is PostgreSQL (${redactUrl(at)}): docs/postgres.md lists what is still SQLite-only`);
  }
  const key = `${config.db}\0${config.store.journalMode}`;
  let db = dbs.get(key);
  if (!db) {
    db = openDb(config.db, { journalMode: config.store.journalMode, busyTimeoutMs: config.store.busyTimeoutMs });
    dbs.set(key, db);
  }
  return db;
}

export function poolFor(config: Config): TransportPool {
  const settings = {
    knownHostsFile: config.ssh.knownHostsFile,
    acceptNewHostKeys: config.ssh.acceptNewHostKeys,
    privateKeyFile: config.ssh.privateKeyFile,
    agentSocket: config.ssh.agentSocket,
    user: config.ssh.user,
    connectTimeoutMs: config.collect.connectTimeoutSeconds * 1000,
    ssmRegion: config.ssm.region,
    ...(config.ssm.outputS3Bucket ? { ssmOutputS3: { bucket: config.ssm.outputS3Bucket, keyPrefix: config.ssm.outputS3KeyPrefix } } : {}),
  };
  const key = JSON.stringify(settings);
  let pool = pools.get(key);
  if (!pool) {
    pool = new TransportPool(settings);
    pools.set(key, pool);
  }
  return pool;
}

/** Shutdown: cut every SSH connection now, so the handlers still waiting on a node fail fast. */
export function destroyConnections(): void {
  for (const p of pools.values()) p.destroyAll();
}

/** Close every connection and database: for the CLI's exit and the hub's shutdown. */
export async function closeResources(): Promise<void> {
  const all = [...pools.values()];
  pools.clear();
  await Promise.all(all.map((p) => p.closeAll()));
  for (const db of dbs.values()) {
    // Rounds the store refused while running get one more try before the process goes.
    await flushRoundsOnClose(db, jsonLogger({ fn: 'store' }));
    db.close();
  }
  dbs.clear();
  const pgs = [...pgStores.values()];
  pgStores.clear();
  for (const p of pgs) {
    const store = await p.catch(() => undefined);
    if (!store) continue;
    await flushRoundsOnClose(store, jsonLogger({ fn: 'store' }));
    // Shards leased by this hub go back now, not at their expiry.
    await releaseShards(store).catch(() => undefined);
    await store.close();
  }
}
