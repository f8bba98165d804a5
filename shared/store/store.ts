/**
 * The store the collection path talks to, whichever database holds it: SQLite (sqliteStore.ts,
 * the embedded default, today's code) or PostgreSQL (pgStore.ts, for many hubs and Lambda).
 * Async, because PostgreSQL is a network call; the SQLite side does its work synchronously
 * inside. Handlers and use cases see only this interface for what it covers: the nodes table,
 * a round's readings, counters, runs and outcomes, the latest readings, rollups, retention,
 * and leases for shards and singleton jobs. docs/postgres.md lists what is still SQLite-only.
 */
import type { MetricKind, NodeSpec } from '../domain/index.js';
import type { Db } from './db.js';
import type { LatestReadings } from './latest.js';
import type { NodeRow, SyncSummary } from './nodes.js';
import type { RetentionDays } from './retention.js';
import type { RollupSummary } from './rollups.js';
import type { RoundWrite } from './roundBuffer.js';
import type { SqlDb } from './sql.js';

export interface Lease {
  name: string;
  owner: string;
  expiresUnixMs: number;
}

export interface Store {
  readonly kind: 'sqlite' | 'postgres';
  /** The file, or the URL without its password. */
  readonly where: string;
  /** The SQLite database, for the paths not behind this interface yet; undefined on PostgreSQL. */
  readonly sqlite?: Db;
  /** The SQL port (sql.ts): one text of a domain module's SQL for both databases. */
  readonly sql: SqlDb;

  schemaVersion(): Promise<number>;
  /** Keep the nodes table in step with the inventory (nodes.ts syncNodes semantics). */
  syncNodes(specs: readonly NodeSpec[], nowUnixSeconds: number, opts?: { keepVars?: readonly string[] }): Promise<SyncSummary>;
  listNodes(opts?: { includeRemoved?: boolean }): Promise<NodeRow[]>;
  /** The last raw counters of each node for the kinds given, keyed `node\0kind`. */
  loadCounterStates(kinds: readonly MetricKind[]): Promise<Map<string, { timeMs: number; sample: unknown }>>;
  /**
   * One round whole in one transaction (sync when asked, readings, counters, the round, its
   * runs, the nodes' outcomes); its id in `rounds`. `lockWaitMs`: how long a lock is waited
   * for in this try (the round buffer retries).
   */
  writeRound(round: RoundWrite, opts?: { lockWaitMs?: number }): Promise<number>;
  latestReadings(): Promise<Map<string, LatestReadings>>;
  /** The newest round's time, null before the first. */
  lastRoundUnixSeconds(): Promise<number | null>;
  updateRollups(nowUnixSeconds: number): Promise<RollupSummary[]>;
  applyRetention(days: RetentionDays, nowUnixSeconds: number): Promise<Record<string, number>>;
  /**
   * Take or renew lease `name` for `owner` until now + ttlMs: true when `owner` holds it now
   * (it was free, expired, or already its own). A holder that dies stops renewing; its lease
   * expires and the next asker takes it.
   */
  tryLease(name: string, owner: string, ttlMs: number): Promise<boolean>;
  releaseLease(name: string, owner: string): Promise<void>;
  /**
   * Claim period `periodUnixSeconds` of singleton job `job` for `owner`: true for the first asker
   * only, across all hubs — or for one taking over a period claimed and never finished (its
   * owner died mid-run, or the run failed). Call it holding the job's lease (handler/singleton.ts):
   * the lease is what says no run of the job is going on.
   */
  claimPeriod(job: string, periodUnixSeconds: number, owner: string): Promise<boolean>;
  finishPeriod(job: string, periodUnixSeconds: number, owner: string): Promise<void>;
  leases(prefix?: string): Promise<Lease[]>;
  close(): Promise<void>;
}

/** claimPeriod's statement on both stores: a new period, or an unfinished one taken over ($1 job, $2 period, $3 owner, $4 now ms). */
export const CLAIM_PERIOD_SQL = `INSERT INTO job_runs (job, period_unix_seconds, owner, started_unix_ms) VALUES ($1, $2, $3, $4)
  ON CONFLICT (job, period_unix_seconds) DO UPDATE SET owner = excluded.owner, started_unix_ms = excluded.started_unix_ms
  WHERE job_runs.finished_unix_ms IS NULL`;
