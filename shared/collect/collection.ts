import type { Config } from '../config/config.js';
import { ConfigError } from '../config/config.js';
import { METRIC_KINDS, type Logger, type MetricKind, type NodeSpec } from '../domain/index.js';
import { guessFormat, loadInventory } from '../inventory/index.js';
import { readFileSync } from 'node:fs';
import { iniVarLine, nodeSpecs } from '../inventory/nodeSpecs.js';
import type { Db } from '../store/db.js';
import type { SyncSummary } from '../store/nodes.js';
import { isTransientStoreError, roundBuffer } from '../store/roundBuffer.js';
import { sqliteStore } from '../store/sqliteStore.js';
import type { Store } from '../store/store.js';
import { shardNodes } from './shard.js';
import { HUB_ID } from './shardLeases.js';
import type { TransportPool } from '../transport/pool.js';
import type { KindFilters } from './kinds/index.js';
import { remoteWriteHook } from '../prometheus/remoteWrite.js';
import { collectRound, type NodeResult, type RoundSummary } from './round.js';

/**
 * Read the inventory into node specs. Throws InventoryError (file and line) on a malformed file:
 * nothing is written. A host whose vars cannot be used (a bad ansible_port) is one host's
 * `problem`, not the inventory's: it is marked `error` and the others are collected.
 */
export function inventoryNodes(config: Config): NodeSpec[] {
  const inv = loadInventory(config.inventory);
  let text: string | undefined;
  const locate = (host: string, varName: string) => {
    try {
      text ??= readFileSync(config.inventory, 'utf8');
    } catch {
      return undefined;
    }
    return guessFormat(text, config.inventory) === 'ini' ? iniVarLine(text, host, varName) : undefined;
  };
  return nodeSpecs(inv.hosts.values(), config.inventory, locate);
}


export function configuredKinds(config: Config): MetricKind[] {
  for (const k of config.collect.kinds) {
    if (!(METRIC_KINDS as readonly string[]).includes(k)) throw new ConfigError(`collect.kinds: unknown kind "${k}" (known: ${METRIC_KINDS.join(', ')})`);
  }
  return config.collect.kinds as MetricKind[];
}

function regex(key: string, source: string): RegExp | undefined {
  if (!source) return undefined;
  try {
    return new RegExp(source);
  } catch (e) {
    throw new ConfigError(`${key}: not a regular expression: ${(e as Error).message}`);
  }
}

export function kindFilters(config: Config): KindFilters {
  const c = config.collect;
  return {
    storageExcludeFsTypes: regex('collect.storageExcludeFsTypes', c.storageExcludeFsTypes),
    storageExcludeMountPoints: regex('collect.storageExcludeMountPoints', c.storageExcludeMountPoints),
    networkExcludeInterfaces: regex('collect.networkExcludeInterfaces', c.networkExcludeInterfaces),
    diskExcludeDevices: regex('collect.diskExcludeDevices', c.diskExcludeDevices),
  };
}

/**
 * collect.maxOutputBytes, maxOutputLines, dfTimeoutSeconds (checked by the config schema). df's
 * bound is held to half the command timeout (whole seconds, at least 1), so that a hung mount
 * leaves the probe time to end on its own.
 */
export function probeLimits(config: Config): { maxOutputBytes: number; maxOutputLines: number; dfTimeoutSeconds: number } {
  const c = config.collect;
  const dfTimeoutSeconds = Math.max(1, Math.min(Math.ceil(c.dfTimeoutSeconds), Math.floor(c.commandTimeoutSeconds / 2)));
  return { maxOutputBytes: c.maxOutputBytes, maxOutputLines: c.maxOutputLines, dfTimeoutSeconds };
}

export interface CollectionSummary extends Omit<RoundSummary, 'results'> {
  sync: SyncSummary;
  /** Per node: status, error, rows (the readings themselves are in the store). */
  perNode: Omit<NodeResult, 'readings'>[];
}

/** Sync the nodes table to the inventory's nodes, then collect the given kinds from every node once. */
export async function runCollection(o: {
  config: Config;
  /** From inventoryNodes(), read before the database is touched. */
  nodes: readonly NodeSpec[];
  /** The store (either kind); or `db`, a SQLite database, as before. */
  store?: Store;
  db?: Db;
  pool: TransportPool;
  log: Logger;
  kinds: readonly MetricKind[];
  /** Collect only these shards' nodes (`k/n` each; default collect.shard): the sync still covers the whole inventory. */
  shards?: readonly string[];
  onNode?: (r: NodeResult, done: number, total: number) => void;
}): Promise<CollectionSummary> {
  const startMs = Date.now();
  const store = o.store ?? sqliteStore(o.db!);
  const buffer = roundBuffer(store);
  buffer.limits = { maxRounds: o.config.store.bufferMaxRounds, maxBytes: o.config.store.bufferMaxBytes };
  // A locked or full store must not stop the round: it is collected anyway, and the sync is
  // done again in the round's own transaction when the store takes it.
  let sync: SyncSummary;
  let syncInWrite: { specs: readonly NodeSpec[]; keepVars?: readonly string[] } | undefined;
  try {
    sync = await store.syncNodes(o.nodes, Math.floor(startMs / 1000), { keepVars: o.config.store.keepVars });
  } catch (e) {
    if (!isTransientStoreError(e)) throw e;
    o.log.warn('nodes not synced, syncing with the round', { error: (e as Error).message });
    sync = { added: [], updated: [], removed: [], unchanged: 0 };
    syncInWrite = { specs: o.nodes, keepVars: o.config.store.keepVars };
  }
  // This hub's part of the inventory (collect.shard, or the shards its leases hold).
  const shards = o.shards ?? [o.config.collect.shard];
  const nodes = shards.length === 1 && !shards[0] ? o.nodes : [...new Set(shards.flatMap((sh) => shardNodes(o.nodes, sh)))];
  if (sync.added.length || sync.updated.length || sync.removed.length) o.log.info('nodes synced', { ...sync });
  // Nodes gone from the inventory keep no connection open.
  const forgotten = o.pool.retain(nodes.map((n) => n.name));
  if (forgotten.length) o.log.info('connections closed for removed nodes', { nodes: forgotten });
  const { results, ...round } = await collectRound({
    store,
    pool: o.pool,
    nodes,
    kinds: o.kinds,
    concurrency: o.config.collect.concurrency,
    commandTimeoutMs: o.config.collect.commandTimeoutSeconds * 1000,
    ...probeLimits(o.config),
    shellSession: o.config.collect.shellSession,
    filters: kindFilters(o.config),
    maxSeriesPerNode: o.config.collect.maxSeriesPerNode,
    // Retried until shortly before the next round is due, so a locked store never skips one.
    writeDeadlineMs: startMs + Math.max(1, o.config.hub.intervalSeconds) * 900,
    syncInWrite,
    tag: shards.some(Boolean) ? { hub: HUB_ID, shards: shards.join(',') } : undefined,
    log: o.log,
    onNode: o.onNode,
    // Remote write queues in the round's own transaction, on either store.
    remoteWrite: remoteWriteHook(o.config, nodes, o.log, store.sql),
  });
  return { ...round, sync, perNode: results.map(({ readings: _r, ...rest }) => rest) };
}
