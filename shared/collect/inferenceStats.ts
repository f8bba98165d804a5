/**
 * Inference performance per model × tag × node over a window: count, throughput, latency
 * percentiles, error rate, accuracy, cold start, and the node's temperature and CPU meanwhile.
 */
import { inferencesBetween, nodeEnergy } from '../store/energy.js';
import { coldStartMs, inferenceGroupRows, logLineCounts, nodeConditions, type InferenceFilter } from '../store/inference.js';
import { asStore, type StoreOrDb } from '../store/sqliteStore.js';

/**
 * Nearest-rank percentile of ascending values: the smallest value with at least p % of the
 * values at or below it (`sorted[ceil(p/100 · n) − 1]`), as MLPerf's LoadGen reports latency
 * percentiles: always a latency that happened, never an interpolation. undefined when empty.
 */
export function percentile(sorted: readonly number[], p: number): number | undefined {
  if (sorted.length === 0) return undefined;
  const rank = Math.max(1, Math.ceil((p / 100) * sorted.length));
  return sorted[Math.min(rank, sorted.length) - 1];
}

export interface InferenceStats {
  model: string;
  tag: string;
  node: string;
  /** Inferences in the window (errors included). */
  count: number;
  /** Inputs in the window (sum of batch). */
  samples: number;
  firstUnixMs: number;
  lastUnixMs: number;
  /** (count − 1) / (last − first): inferences per second while it ran; null with fewer than 2 or all at once. */
  inferencesPerSecond: number | null;
  /** The same for inputs (batch sizes summed, the first inference's left out). */
  samplesPerSecond: number | null;
  /** Over inferences without an error that gave latency_ms. */
  latencyMs: { min: number; mean: number; p50: number; p90: number; p95: number; p99: number; max: number } | null;
  errors: number;
  errorRate: number;
  /** Inferences without an error whose input's truth was known, and how many of them were right. */
  withExpected: number;
  correct: number;
  /** correct / withExpected; null when no truth was known. */
  accuracy: number | null;
  /** The latest deployment's: request (queued) to first inference, ms; null when unknown (pushed rows without a deployment). */
  coldStartMs: number | null;
  deploymentIds: string[];
  /** The node's mean temperature (all sensors) and CPU usage between the first and the last inference. */
  temperatureCelsius: number | null;
  cpuUsagePercent: number | null;
  /**
   * The node's average total power (table `power`) over the inferences' span, and joules per
   * inference: the power integrated by the trapezoid rule from the span's first to its last power
   * sample, divided by this model tag's inferences in that time. Whole-node power, idle share
   * included (another model on the node draws from it too). null with fewer than two power
   * samples or no inference between them.
   */
  powerWatts: number | null;
  joulesPerInference: number | null;
  /** Lines of these deployments' logs (all time) that were not inferences: not the protocol (ignored) or a bad field (invalid). */
  logLines: { read: number; ignored: number; invalid: number; lastInvalid: string | null };
}

/**
 * The stats per model × tag × node, computed by the database (inferenceGroupRows), SQLite or
 * PostgreSQL: nothing here holds the window's rows, so a day of a busy model costs the same
 * memory as a minute.
 */
export async function inferenceStats(store: StoreOrDb, f: InferenceFilter): Promise<InferenceStats[]> {
  const db = asStore(store).sql;
  const out: InferenceStats[] = [];
  for (const g of await inferenceGroupRows(db, f)) {
    const deployments = JSON.parse(g.deploymentsJson) as [string, number][];
    const spanSeconds = (g.lastUnixMs - g.firstUnixMs) / 1000;
    const latest = [...deployments].sort((a, b) => b[1] - a[1])[0]?.[0];
    const cold = latest !== undefined ? await coldStartMs(db, latest, g.node, g.nodeId) : undefined;
    const cond = await nodeConditions(db, g.nodeId, Math.floor(g.firstUnixMs / 1000), Math.ceil(g.lastUnixMs / 1000));
    const ids = deployments.map((x) => x[0]);
    const energy = await nodeEnergy(db, g.nodeId, Math.floor(g.firstUnixMs / 1000), Math.ceil(g.lastUnixMs / 1000));
    const inSpan = energy ? await inferencesBetween(db, g.nodeId, g.model, g.tag, energy.fromUnixSeconds * 1000, energy.toUnixSeconds * 1000) : 0;
    const lines = await logLineCounts(db, ids, g.nodeId);
    out.push({
      model: g.model,
      tag: g.tag,
      node: g.node,
      count: g.count,
      samples: g.samples,
      firstUnixMs: g.firstUnixMs,
      lastUnixMs: g.lastUnixMs,
      inferencesPerSecond: g.count > 1 && spanSeconds > 0 ? (g.count - 1) / spanSeconds : null,
      samplesPerSecond: g.count > 1 && spanSeconds > 0 ? (g.samples - g.firstBatch) / spanSeconds : null,
      latencyMs:
        g.latencyCount > 0
          ? { min: g.latencyMin!, mean: g.latencyMean!, p50: g.p50!, p90: g.p90!, p95: g.p95!, p99: g.p99!, max: g.latencyMax! }
          : null,
      errors: g.errors,
      errorRate: g.errors / g.count,
      withExpected: g.withExpected,
      correct: g.correct,
      accuracy: g.withExpected ? g.correct / g.withExpected : null,
      coldStartMs: cold ?? null,
      deploymentIds: ids.sort(),
      temperatureCelsius: cond.temperatureCelsius,
      cpuUsagePercent: cond.cpuUsagePercent,
      powerWatts: energy && inSpan > 0 ? energy.averageWatts : null,
      joulesPerInference: energy && inSpan > 0 ? energy.joules / inSpan : null,
      logLines: { read: lines.linesRead, ignored: lines.ignored, invalid: lines.invalid, lastInvalid: lines.lastInvalid },
    });
  }
  return out.sort((a, b) => a.model.localeCompare(b.model) || a.tag.localeCompare(b.tag) || a.node.localeCompare(b.node));
}

/** `lab/iris:v1` → model and tag; `lab/iris` → model only. A registry host with a port is not a tag. */
export function modelFilter(text: string): { model: string; tag?: string } {
  const i = text.lastIndexOf(':');
  if (i > 0 && !text.slice(i + 1).includes('/')) return { model: text.slice(0, i), tag: text.slice(i + 1) };
  return { model: text };
}
