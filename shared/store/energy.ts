import type { SqlDb } from './sql.js';

/**
 * Energy from a node's total power samples (table `power`): the trapezoid rule between
 * consecutive samples, as a power meter integrates. Whole-node power: what the model ran on,
 * baseline included.
 */
export interface EnergyOver {
  /** First and last power sample in the window, unix seconds: the span integrated. */
  fromUnixSeconds: number;
  toUnixSeconds: number;
  joules: number;
  /** joules / (to − from). */
  averageWatts: number;
}

/** Trapezoid over samples sorted by time: Σ (Pᵢ + Pᵢ₊₁) / 2 · (tᵢ₊₁ − tᵢ). undefined with fewer than 2 samples. */
export function trapezoidJoules(samples: readonly { timeUnixSeconds: number; watts: number }[]): EnergyOver | undefined {
  if (samples.length < 2) return undefined;
  let joules = 0;
  for (let i = 1; i < samples.length; i++) {
    const a = samples[i - 1]!;
    const b = samples[i]!;
    joules += ((a.watts + b.watts) / 2) * (b.timeUnixSeconds - a.timeUnixSeconds);
  }
  const from = samples[0]!.timeUnixSeconds;
  const to = samples[samples.length - 1]!.timeUnixSeconds;
  return to > from ? { fromUnixSeconds: from, toUnixSeconds: to, joules, averageWatts: joules / (to - from) } : undefined;
}

/** Rows read for one window at most: a day of 10 s rounds is 8,640. */
const MAX_SAMPLES = 100_000;

/** The node's power samples within [from, to] (unix seconds), integrated; undefined with fewer than 2. */
export async function nodeEnergy(sql: SqlDb, nodeId: number, fromUnixSeconds: number, toUnixSeconds: number): Promise<EnergyOver | undefined> {
  const rows = await sql.all<{ timeUnixSeconds: number; watts: number }>(
    'SELECT time AS "timeUnixSeconds", watts FROM power WHERE node_id = ? AND time >= ? AND time <= ? ORDER BY time LIMIT ?',
    [nodeId, fromUnixSeconds, toUnixSeconds, MAX_SAMPLES],
  );
  return trapezoidJoules(rows);
}

/** Inferences of one model tag on one node with time_unix_ms in [fromMs, toMs]: one range on the (node_id, time) index. */
export async function inferencesBetween(sql: SqlDb, nodeId: number, model: string, tag: string, fromMs: number, toMs: number): Promise<number> {
  const r = await sql.get<{ n: number }>(
    'SELECT COUNT(*) AS n FROM inference WHERE node_id = ? AND time >= ? AND time <= ? AND model = ? AND tag = ? AND time_unix_ms >= ? AND time_unix_ms <= ?',
    [nodeId, Math.floor(fromMs / 1000), Math.ceil(toMs / 1000), model, tag, fromMs, toMs],
  );
  return r!.n;
}
