import type { Logger, MetricKind, NodeSpec, SsmAgentInfo } from '../domain/index.js';
import { ParseError } from '../parse/errors.js';
import type { Db } from '../store/db.js';
import type { NodeOutcome } from '../store/nodes.js';
import type { CollectorRun, CounterState, NodeReadings } from '../store/readings.js';
import { roundBuffer } from '../store/roundBuffer.js';
import { sqliteStore } from '../store/sqliteStore.js';
import type { Store } from '../store/store.js';
import type { SqlDb } from '../store/sql.js';
import { TransportError, type TransportPool } from '../transport/index.js';
import { COLLECTORS, type KindFilters } from './kinds/index.js';
import { mapLimit } from './limit.js';
import { dfHung } from './kinds/storage.js';
import { inodesDue } from './kinds/inodes.js';
import { DEFAULT_DF_TIMEOUT_SECONDS, DEFAULT_ROOTS, newProbeNonce, type ProbeRoots } from './probes.js';
import { runProbe, type ProbeRun } from './runProbe.js';

export interface RoundOptions {
  /** The store (either kind); or `db`, a SQLite database, as before. */
  store?: Store;
  db?: Db;
  pool: TransportPool;
  nodes: readonly NodeSpec[];
  kinds: readonly MetricKind[];
  concurrency: number;
  commandTimeoutMs: number;
  /** Per-node output caps (collect.maxOutputBytes, collect.maxOutputLines); past them the node is `error`, nothing kept. */
  maxOutputBytes?: number;
  maxOutputLines?: number;
  /** df is killed on the node after this long (collect.dfTimeoutSeconds). */
  dfTimeoutSeconds?: number;
  /** false: no long-lived shell on the node (collect.shellSession); each probe a command of its own. */
  shellSession?: boolean;
  filters?: KindFilters;
  /** A node whose round has more series (rows) than this is refused whole, like Prometheus' sample_limit (`collect.maxSeriesPerNode`; 0: no limit). */
  maxSeriesPerNode?: number;
  /** A write the store refuses (locked, full) is retried until then, then buffered (default: the start plus 10 s). */
  writeDeadlineMs?: number;
  /** Which hub and shards the round is (stored in `rounds`; many hubs on one store). */
  tag?: { hub: string; shards: string };
  /** Inventory nodes to sync in the round's own transaction, when the sync before the round failed. */
  syncInWrite?: { specs: readonly NodeSpec[]; keepVars?: readonly string[] };
  log: Logger;
  /** Called as each node finishes, for progress displays. */
  onNode?: (result: NodeResult, done: number, total: number) => void;
  /**
   * Remote write (shared/prometheus/remoteWrite.ts): given what the round stores, it encodes it
   * and returns what to run inside the round's transaction (queueing it), so a round is stored
   * and queued together or not at all.
   */
  remoteWrite?: (round: StoredRound) => Promise<(sql: SqlDb) => Promise<void>>;
}

/** What a round stores, for remote write. */
export interface StoredRound {
  timeUnixSeconds: number;
  readings: readonly NodeReadings[];
  counters: readonly CounterState[];
  runs: readonly CollectorRun[];
  statuses: readonly { node: string; status: NodeResult['status'] }[];
}

export interface NodeResult {
  node: string;
  status: 'up' | 'unreachable' | 'error';
  /** What went wrong: the connection, or each kind whose data was rejected. */
  error?: string;
  /** `config`: the node's settings cannot work (no SSH credentials, a bad ansible_port): fix the inventory or config. */
  errorKind?: 'config';
  rows: number;
  durationMs: number;
  readings?: NodeReadings;
  /** SSM nodes: the agent as SSM described it this round (also when it was offline). */
  ssmAgent?: SsmAgentInfo;
}

export interface RoundSummary {
  kinds: MetricKind[];
  nodes: number;
  ok: number;
  failed: number;
  rows: number;
  durationMs: number;
  /** The round is in the store; false: kept in memory until the store takes it (GET /health says so). */
  stored: boolean;
  storeError?: string;
  /** Rounds in memory waiting for the store, this one included. */
  bufferedRounds: number;
  results: NodeResult[];
}

export const DEFAULT_MAX_SERIES_PER_NODE = 2000;

/** A node's probe roots, from its host vars (like node_exporter's --path.procfs / --path.sysfs). */
export function probeRoots(node: NodeSpec): ProbeRoots {
  const v = node.vars;
  return {
    procRoot: typeof v.edgefleet_proc_root === 'string' && v.edgefleet_proc_root ? v.edgefleet_proc_root : DEFAULT_ROOTS.procRoot,
    sysRoot: typeof v.edgefleet_sys_root === 'string' && v.edgefleet_sys_root ? v.edgefleet_sys_root : DEFAULT_ROOTS.sysRoot,
    ...(typeof v.edgefleet_rootfs === 'string' && v.edgefleet_rootfs ? { rootfsRoot: v.edgefleet_rootfs } : {}),
    ...(typeof v.edgefleet_vcgencmd === 'string' && v.edgefleet_vcgencmd ? { vcgencmd: v.edgefleet_vcgencmd } : {}),
  };
}

/**
 * One collection round: every node probed once (one command for all kinds), at most
 * `concurrency` at a time, each bounded by its timeouts, so a dead or slow node never stalls
 * or fails the others. Everything the round learned lands in one transaction; a store that
 * refuses it (locked, full) gets it again until `writeDeadlineMs`, then from memory before the
 * next round (store/roundBuffer.ts).
 */
export async function collectRound(o: RoundOptions): Promise<RoundSummary> {
  const startMs = Date.now();
  const time = Math.floor(startMs / 1000);
  const kinds = [...o.kinds];
  const store = o.store ?? sqliteStore(o.db!);
  const buffer = roundBuffer(store);
  const prevCounters = await store.loadCounterStates(kinds);
  // Rounds not yet stored are newer than what the store has: deltas start from them.
  for (const [k, v] of buffer.pendingCounters()) prevCounters.set(k, v);
  const maxSeries = o.maxSeriesPerNode ?? DEFAULT_MAX_SERIES_PER_NODE;
  const counters: CounterState[] = [];
  const runs: CollectorRun[] = [];
  let done = 0;
  const probeOptions = { nonce: newProbeNonce(), dfTimeoutSeconds: o.dfTimeoutSeconds ?? DEFAULT_DF_TIMEOUT_SECONDS };

  const probe = async (node: NodeSpec): Promise<NodeResult> => {
    const t0 = performance.now();
    const result = await collectNode(node);
    result.durationMs = performance.now() - t0;
    const agent = node.connection === 'ssm' ? o.pool.get(node).agentInfo?.() : undefined;
    if (agent) result.ssmAgent = agent;
    o.onNode?.(result, ++done, o.nodes.length);
    return result;
  };
  // SSM nodes all start at once: the transport batches them into one SendCommand per 50, so
  // they cost API calls, not connections, and must not wait for the SSH nodes' slots.
  const ssm = o.nodes.filter((n) => n.connection === 'ssm');
  const others = o.nodes.filter((n) => n.connection !== 'ssm');
  const [ssmResults, otherResults] = await Promise.all([mapLimit(ssm, ssm.length, probe), mapLimit(others, o.concurrency, probe)]);
  const byNode = new Map([...ssmResults, ...otherResults].map((r) => [r.node, r]));
  const results = o.nodes.map((n) => byNode.get(n.name)!);

  async function collectNode(node: NodeSpec): Promise<NodeResult> {
    const roots = probeRoots(node);
    let run: ProbeRun;
    try {
      // A node whose df hung last time gets df bounded on the node until it answers (state in counter_state, kind storage).
      // A transport that answers whole (SSM) gives nothing of a command that timed out, so the
      // files before df would be lost with it: df is always bounded there.
      const transport = o.pool.get(node);
      const boundDf = transport.answersWhole === true || dfHung(prevCounters.get(`${node.name}\0storage`)?.sample);
      const inodes = inodesDue(prevCounters.get(`${node.name}\0inodes`), Date.now());
      run = await runProbe(transport, kinds, roots, { ...probeOptions, boundDf, inodes }, {
        timeoutMs: o.commandTimeoutMs,
        maxOutputBytes: o.maxOutputBytes,
        maxOutputLines: o.maxOutputLines,
      }, o.shellSession !== false);
    } catch (e) {
      // A cut-off output (ParseError) is the node's error, never rows.
      const status = (e instanceof TransportError && e.kind !== 'unreachable') || e instanceof ParseError ? 'error' : 'unreachable';
      const error = (e as Error).message;
      o.log.warn('node not collected', { node: node.name, status, error });
      for (const kind of kinds) runs.push({ node: node.name, kind, success: false, durationMs: 0, rows: 0, error });
      return { node: node.name, status, error, ...(e instanceof TransportError && e.kind === 'config' ? { errorKind: 'config' as const } : {}), rows: 0, durationMs: 0 };
    }
    const nowMs = Date.now();
    const files = run.files;
    const readings: NodeReadings = { node: node.name, timeUnixSeconds: time };
    const errors: string[] = [];
    const nodeCounters: CounterState[] = [];
    const nodeRuns: CollectorRun[] = [];
    let rows = 0;
    for (const kind of kinds) {
      const t0 = performance.now();
      try {
        const out = COLLECTORS[kind].collect({
          files, prev: prevCounters.get(`${node.name}\0${kind}`), nowMs, filters: o.filters ?? {},
          df: run.df,
        });
        Object.assign(readings, out.readings);
        rows += out.rows;
        if (out.counters !== undefined) nodeCounters.push({ node: node.name, kind, timeMs: nowMs, sample: out.counters });
        for (const note of out.notes) o.log.info(note, { node: node.name, kind });
        if (out.error !== undefined) {
          // What it read is stored; the run is failed, the node `error`, with the kind's message.
          errors.push(`${kind}: ${out.error}`);
          o.log.warn('node output rejected in part', { node: node.name, kind, error: out.error });
        }
        nodeRuns.push({ node: node.name, kind, success: out.error === undefined, durationMs: performance.now() - t0, rows: out.rows, ...(out.error !== undefined ? { error: `${kind}: ${out.error}` } : {}) });
      } catch (e) {
        // Rejected, logged, never stored: the other kinds of this node still land.
        const error = `${kind}: ${(e as Error).message}`;
        errors.push(error);
        // A failure may carry state for the next round (storage: since when df hangs).
        const state = (e as { counters?: unknown }).counters;
        if (state !== undefined) nodeCounters.push({ node: node.name, kind, timeMs: nowMs, sample: state });
        o.log.warn('node output rejected', { node: node.name, kind, error });
        nodeRuns.push({ node: node.name, kind, success: false, durationMs: performance.now() - t0, rows: 0, error });
      }
    }
    if (maxSeries > 0 && rows > maxSeries) {
      // Refused whole, as Prometheus refuses a scrape over sample_limit: nothing of it stored,
      // not even its counters (the next round's deltas start from the last stored ones).
      const error = `${rows} series over the limit ${maxSeries} (collect.maxSeriesPerNode)`;
      o.log.warn('node round refused', { node: node.name, error });
      for (const r of nodeRuns) runs.push({ ...r, success: false, rows: 0, error });
      return { node: node.name, status: 'error', error, rows: 0, durationMs: 0 };
    }
    counters.push(...nodeCounters);
    runs.push(...nodeRuns);
    return errors.length
      ? { node: node.name, status: 'error', error: errors.join('; '), rows, durationMs: 0, readings }
      : { node: node.name, status: 'up', rows, durationMs: 0, readings };
  }

  const outcomes: NodeOutcome[] = results.map((r) => ({
    name: r.node,
    status: r.status,
    seenUnixSeconds: r.status === 'unreachable' ? undefined : time,
    error: r.error,
    ...(r.ssmAgent ? { ssmAgent: r.ssmAgent } : {}),
  }));
  const queue = await o.remoteWrite?.({ timeUnixSeconds: time, readings: results.flatMap((r) => (r.readings ? [r.readings] : [])), counters, runs, statuses: results.map((r) => ({ node: r.node, status: r.status })) });
  const write = await buffer.submit(
    {
      timeUnixSeconds: time,
      startedUnixMs: startMs,
      kinds,
      readings: results.flatMap((r) => (r.readings ? [r.readings] : [])),
      counters,
      runs,
      outcomes,
      sync: o.syncInWrite,
      ...o.tag,
      alsoInTransaction: queue,
    },
    { deadlineMs: o.writeDeadlineMs ?? startMs + 10_000, log: o.log },
  );
  const ok = results.filter((r) => r.status === 'up').length;
  return {
    kinds,
    nodes: results.length,
    ok,
    failed: results.length - ok,
    rows: results.reduce((n, r) => n + r.rows, 0),
    durationMs: Date.now() - startMs,
    stored: write.stored,
    storeError: write.error,
    bufferedRounds: buffer.health.bufferedRounds,
    results,
  };
}
