import { loadConfig, type Config } from '../config/config.js';
import { openDb, type Db } from '../store/db.js';
import { flushRoundsOnClose } from '../store/roundBuffer.js';
import { jsonLogger } from './logger.js';
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

export function dbFor(config: Config): Db {
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
    flushRoundsOnClose(db, jsonLogger({ fn: 'store' }));
    db.close();
  }
  dbs.clear();
}
