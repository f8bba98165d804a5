/**
 * Inference performance per model × tag × node over a window: count, throughput, latency
 * percentiles, error rate, accuracy, cold start, and the node's temperature and CPU meanwhile.
 */
import type { Db } from '../store/db.js';
import { coldStartMs, inferenceStatRows, logLineCounts, nodeConditions, type InferenceFilter, type InferenceStatRow } from '../store/inference.js';

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
  /** Lines of these deployments' logs (all time) that were not inferences: not the protocol (ignored) or a bad field (invalid). */
  logLines: { read: number; ignored: number; invalid: number; lastInvalid: string | null };
}

export function inferenceStats(db: Db, f: InferenceFilter): InferenceStats[] {
  const groups = new Map<string, InferenceStatRow[]>();
  for (const r of inferenceStatRows(db, f)) {
    const k = `${r.model}\0${r.tag}\0${r.node}`;
    let g = groups.get(k);
    if (!g) groups.set(k, (g = []));
    g.push(r);
  }
  const out: InferenceStats[] = [];
  for (const rows of groups.values()) {
    const first = rows[0]!;
    let firstMs = Infinity;
    let lastMs = -Infinity;
    let samples = 0;
    let errors = 0;
    let withExpected = 0;
    let correct = 0;
    const latencies: number[] = [];
    const deployments = new Map<string, number>();
    for (const r of rows) {
      if (r.timeUnixMs < firstMs) firstMs = r.timeUnixMs;
      if (r.timeUnixMs > lastMs) lastMs = r.timeUnixMs;
      samples += r.batch;
      if (r.deploymentId !== null) deployments.set(r.deploymentId, Math.max(deployments.get(r.deploymentId) ?? -Infinity, r.timeUnixMs));
      if (r.error !== null) {
        errors++;
        continue;
      }
      if (r.latencyMs !== null) latencies.push(r.latencyMs);
      if (r.expected !== null) {
        withExpected++;
        if (r.label === r.expected) correct++;
      }
    }
    latencies.sort((a, b) => a - b);
    const spanSeconds = (lastMs - firstMs) / 1000;
    const firstBatch = rows.reduce((m, r) => (r.timeUnixMs === firstMs ? r.batch : m), 0);
    const latest = [...deployments.entries()].sort((a, b) => b[1] - a[1])[0]?.[0];
    const cold = latest !== undefined ? coldStartMs(db, latest, first.node, first.nodeId) : undefined;
    const cond = nodeConditions(db, first.nodeId, Math.floor(firstMs / 1000), Math.ceil(lastMs / 1000));
    const lines = logLineCounts(db, [...deployments.keys()], first.nodeId);
    out.push({
      model: first.model,
      tag: first.tag,
      node: first.node,
      count: rows.length,
      samples,
      firstUnixMs: firstMs,
      lastUnixMs: lastMs,
      inferencesPerSecond: rows.length > 1 && spanSeconds > 0 ? (rows.length - 1) / spanSeconds : null,
      samplesPerSecond: rows.length > 1 && spanSeconds > 0 ? (samples - firstBatch) / spanSeconds : null,
      latencyMs: latencies.length
        ? {
            min: latencies[0]!,
            mean: latencies.reduce((s, v) => s + v, 0) / latencies.length,
            p50: percentile(latencies, 50)!,
            p90: percentile(latencies, 90)!,
            p95: percentile(latencies, 95)!,
            p99: percentile(latencies, 99)!,
            max: latencies[latencies.length - 1]!,
          }
        : null,
      errors,
      errorRate: errors / rows.length,
      withExpected,
      correct,
      accuracy: withExpected ? correct / withExpected : null,
      coldStartMs: cold ?? null,
      deploymentIds: [...deployments.keys()].sort(),
      temperatureCelsius: cond.temperatureCelsius,
      cpuUsagePercent: cond.cpuUsagePercent,
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
