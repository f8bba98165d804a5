import type { Logger, MetricKind, NodeSpec } from '../domain/index.js';
import { splitProbeOutput } from '../parse/probeOutput.js';
import type { Db } from '../store/db.js';
import { recordOutcomes, type NodeOutcome } from '../store/nodes.js';
import { loadCounterStates, readingsWriter, type CollectorRun, type CounterState, type NodeReadings } from '../store/readings.js';
import { TransportError, type TransportPool } from '../transport/index.js';
import { COLLECTORS, type KindFilters } from './kinds/index.js';
import { mapLimit } from './limit.js';
import { DEFAULT_ROOTS, probeCommand, type ProbeRoots } from './probes.js';

export interface RoundOptions {
  db: Db;
  pool: TransportPool;
  nodes: readonly NodeSpec[];
  kinds: readonly MetricKind[];
  concurrency: number;
  commandTimeoutMs: number;
  filters?: KindFilters;
  log: Logger;
  /** Called as each node finishes, for progress displays. */
  onNode?: (result: NodeResult, done: number, total: number) => void;
}

export interface NodeResult {
  node: string;
  status: 'up' | 'unreachable' | 'error';
  /** What went wrong: the connection, or each kind whose data was rejected. */
  error?: string;
  rows: number;
  durationMs: number;
  readings?: NodeReadings;
}

export interface RoundSummary {
  kinds: MetricKind[];
  nodes: number;
  ok: number;
  failed: number;
  rows: number;
  durationMs: number;
  results: NodeResult[];
}

/** A node's probe roots, from its host vars (like node_exporter's --path.procfs / --path.sysfs). */
export function probeRoots(node: NodeSpec): ProbeRoots {
  const v = node.vars;
  return {
    procRoot: typeof v.edgefleet_proc_root === 'string' && v.edgefleet_proc_root ? v.edgefleet_proc_root : DEFAULT_ROOTS.procRoot,
    sysRoot: typeof v.edgefleet_sys_root === 'string' && v.edgefleet_sys_root ? v.edgefleet_sys_root : DEFAULT_ROOTS.sysRoot,
  };
}

/**
 * One collection round: every node probed once (one command for all kinds), at most
 * `concurrency` at a time, each bounded by its timeouts, so a dead or slow node never stalls
 * or fails the others. Everything the round learned lands in one transaction.
 */
export async function collectRound(o: RoundOptions): Promise<RoundSummary> {
  const startMs = Date.now();
  const time = Math.floor(startMs / 1000);
  const kinds = [...o.kinds];
  const prevCounters = loadCounterStates(o.db, kinds);
  const counters: CounterState[] = [];
  const runs: CollectorRun[] = [];
  let done = 0;

  const probe = async (node: NodeSpec): Promise<NodeResult> => {
    const t0 = performance.now();
    const result = await collectNode(node);
    result.durationMs = performance.now() - t0;
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
    let stdout: string;
    try {
      ({ stdout } = await o.pool.get(node).exec(probeCommand(kinds, roots), { timeoutMs: o.commandTimeoutMs }));
    } catch (e) {
      const status = e instanceof TransportError && e.kind !== 'unreachable' ? 'error' : 'unreachable';
      const error = (e as Error).message;
      o.log.warn('node not collected', { node: node.name, status, error });
      for (const kind of kinds) runs.push({ node: node.name, kind, success: false, durationMs: 0, rows: 0, error });
      return { node: node.name, status, error, rows: 0, durationMs: 0 };
    }
    const nowMs = Date.now();
    const files = splitProbeOutput(stdout, roots);
    const readings: NodeReadings = { node: node.name, timeUnixSeconds: time };
    const errors: string[] = [];
    let rows = 0;
    for (const kind of kinds) {
      const t0 = performance.now();
      try {
        const out = COLLECTORS[kind].collect({ files, prev: prevCounters.get(`${node.name}\0${kind}`), nowMs, filters: o.filters ?? {} });
        Object.assign(readings, out.readings);
        rows += out.rows;
        if (out.counters !== undefined) counters.push({ node: node.name, kind, timeMs: nowMs, sample: out.counters });
        for (const note of out.notes) o.log.info(note, { node: node.name, kind });
        runs.push({ node: node.name, kind, success: true, durationMs: performance.now() - t0, rows: out.rows });
      } catch (e) {
        // Rejected, logged, never stored: the other kinds of this node still land.
        const error = `${kind}: ${(e as Error).message}`;
        errors.push(error);
        o.log.warn('node output rejected', { node: node.name, kind, error });
        runs.push({ node: node.name, kind, success: false, durationMs: performance.now() - t0, rows: 0, error });
      }
    }
    return errors.length
      ? { node: node.name, status: 'error', error: errors.join('; '), rows, durationMs: 0, readings }
      : { node: node.name, status: 'up', rows, durationMs: 0, readings };
  }

  const outcomes: NodeOutcome[] = results.map((r) => ({
    name: r.node,
    status: r.status,
    seenUnixSeconds: r.status === 'unreachable' ? undefined : time,
    error: r.error,
  }));
  readingsWriter(o.db).writeRound(
    results.flatMap((r) => (r.readings ? [r.readings] : [])),
    counters,
    runs,
    () => recordOutcomes(o.db, outcomes, time),
  );
  const ok = results.filter((r) => r.status === 'up').length;
  return {
    kinds,
    nodes: results.length,
    ok,
    failed: results.length - ok,
    rows: results.reduce((n, r) => n + r.rows, 0),
    durationMs: Date.now() - startMs,
    results,
  };
}
