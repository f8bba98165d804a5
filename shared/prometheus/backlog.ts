import { compressBlock, uncompressBlock, type EncodedSeries, type SeriesColumns } from './writeRequest.js';

/**
 * The remote-write queue's rows and how a backlog of them becomes requests.
 *
 * A row (remote_write_queue.format 2) is one round's chunk of series, one sample each, stored
 * snappy-compressed as columns: u32 n, u32 0, n × f64 value, n × f64 timestamp (ms), (n + 1) ×
 * u32 offsets of the labels after them, then each series' labels as encodeLabels gave them.
 * Nothing is protobuf-encoded at queue time: the samples are encoded once, when a request is
 * built, whether it holds one round or a merged backlog.
 *
 * Merging: the rows of a batch (consecutive in the queue, so in time order per series) are
 * grouped by series, each series' samples together in queue order, and split into requests
 * of at most maxSamplesPerSend samples. A series is in one request of its batch only, so the
 * requests of a batch hold disjoint series and may all be in flight at once; the next batch
 * starts when every request of this one is answered (order per series). Prometheus reads a
 * series' labels and looks it up once per request, so 8 samples of it in one request cost it
 * about a third of 8 requests (bench/README.md).
 */

const HEADER_BYTES = 8;

/** One round's series, one sample each, as columns (what roundSeries builds). */
export interface RoundColumns {
  labels: Uint8Array[];
  values: number[];
  timestampsMs: number[];
}

export function roundColumnsOf(series: readonly EncodedSeries[]): RoundColumns {
  return { labels: series.map((s) => s.labels), values: series.map((s) => s.value), timestampsMs: series.map((s) => s.timestamp) };
}

/** Series `from` to `to - 1` of a round, one sample each, as a request is encoded from. */
export function roundBatch(c: RoundColumns, from = 0, to = c.labels.length): SeriesColumns {
  const n = to - from;
  const start = new Uint32Array(n + 1);
  for (let i = 0; i <= n; i++) start[i] = i;
  return { labels: c.labels.slice(from, to), start, values: Float64Array.from(c.values.slice(from, to)), timestampsMs: Float64Array.from(c.timestampsMs.slice(from, to)) };
}

/** A chunk of one round as a queue row (format 2), compressed. */
export function encodeQueueRow(c: RoundColumns, from = 0, to = c.labels.length): Buffer {
  const n = to - from;
  let labelBytes = 0;
  for (let i = from; i < to; i++) labelBytes += c.labels[i]!.length;
  const offsetsAt = HEADER_BYTES + 16 * n;
  const labelsAt = offsetsAt + 4 * (n + 1);
  const raw = Buffer.allocUnsafe(labelsAt + labelBytes);
  raw.writeUInt32LE(n, 0);
  raw.writeUInt32LE(0, 4);
  let pos = 0;
  for (let i = 0; i < n; i++) {
    const labels = c.labels[from + i]!;
    raw.writeDoubleLE(c.values[from + i]!, HEADER_BYTES + 8 * i);
    raw.writeDoubleLE(c.timestampsMs[from + i]!, HEADER_BYTES + 8 * (n + i));
    raw.writeUInt32LE(pos, offsetsAt + 4 * i);
    raw.set(labels, labelsAt + pos);
    pos += labels.length;
  }
  raw.writeUInt32LE(pos, offsetsAt + 4 * n);
  return compressBlock(raw);
}

/** The series of queue rows, merged: each series once, its samples in queue order. */
export interface MergedBatch extends SeriesColumns {
  /** Samples left out: a second sample of a series at a time it already has (Prometheus would refuse the request). */
  duplicates: number;
}

/** A queued row to merge: its payload (format 2), samples, and round (rows of one round hold a series once). */
export interface MergeRow {
  payload: Buffer;
  samples: number;
  round: number | null;
}

/**
 * Group the samples of `rows` (queue order) by series. The batch's first round holds each series
 * once, so its series are taken as they come. Later rounds list their series in the same order,
 * so the series after the one just found is tried first (a byte comparison); only a miss costs
 * a lookup by the labels' bytes (the lookup table is built at the first miss). A series' labels
 * are a view into the row it first came in (mostly the first round's: the others' rows are let
 * go after the merge).
 */
export function mergeQueueRows(rows: readonly MergeRow[]): MergedBatch {
  let total = 0;
  for (const r of rows) total += r.samples;
  const groupOf = new Uint32Array(total);
  const valueIn = new Float64Array(total);
  const timeIn = new Float64Array(total);
  const count = new Uint32Array(total + 1);
  const lastTime = new Float64Array(total);
  const labels: Buffer[] = [];
  let byLabels: Map<string, number> | undefined;
  const lookup = (raw: Buffer, s: number, e: number) => {
    if (!byLabels) {
      byLabels = new Map();
      for (let g = 0; g < labels.length; g++) byLabels.set(labels[g]!.toString('latin1'), g);
    }
    return byLabels.get(raw.toString('latin1', s, e));
  };
  const firstRound = rows[0]?.round ?? null;
  let k = 0;
  let duplicates = 0;
  for (let r = 0; r < rows.length; r++) {
    const raw = uncompressBlock(rows[r]!.payload);
    const n = raw.readUInt32LE(0);
    if (n !== rows[r]!.samples) throw new Error(`remote write queue: a row says ${rows[r]!.samples} samples and holds ${n}`);
    const offsetsAt = HEADER_BYTES + 16 * n;
    const labelsAt = offsetsAt + 4 * (n + 1);
    const fresh = firstRound !== null && rows[r]!.round === firstRound;
    let guess = -1;
    for (let i = 0; i < n; i++) {
      const s = labelsAt + raw.readUInt32LE(offsetsAt + 4 * i);
      const e = labelsAt + raw.readUInt32LE(offsetsAt + 4 * i + 4);
      const groups = labels.length;
      let g: number | undefined;
      if (fresh) g = undefined;
      else if (guess >= 0 && guess < groups && labels[guess]!.length === e - s && raw.compare(labels[guess]!, 0, e - s, s, e) === 0) g = guess;
      else g = lookup(raw, s, e);
      if (g === undefined) {
        g = groups;
        labels.push(raw.subarray(s, e));
        byLabels?.set(raw.toString('latin1', s, e), g);
        lastTime[g] = -Infinity;
      }
      guess = g + 1;
      const t = raw.readDoubleLE(HEADER_BYTES + 8 * (n + i));
      if (t <= lastTime[g]!) {
        duplicates++;
        continue;
      }
      lastTime[g] = t;
      groupOf[k] = g;
      valueIn[k] = raw.readDoubleLE(HEADER_BYTES + 8 * i);
      timeIn[k] = t;
      count[g + 1]!++;
      k++;
    }
  }
  const groups = labels.length;
  const start = new Uint32Array(groups + 1);
  for (let g = 0; g < groups; g++) start[g + 1] = start[g]! + count[g + 1]!;
  // One sample per series (one round): already in order. Else a counting sort by series,
  // stable: each series' samples stay in queue order.
  if (groups === k) return { labels, start, values: valueIn.subarray(0, k), timestampsMs: timeIn.subarray(0, k), duplicates };
  const next = start.slice(0, groups);
  const values = new Float64Array(k);
  const timestampsMs = new Float64Array(k);
  for (let i = 0; i < k; i++) {
    const at = next[groupOf[i]!]!++;
    values[at] = valueIn[i]!;
    timestampsMs[at] = timeIn[i]!;
  }
  return { labels, start, values, timestampsMs, duplicates };
}

/** A request of a batch: series `from` to `to - 1`, their samples, and whether one has more than one. */
export interface BatchRequest {
  from: number;
  to: number;
  samples: number;
  merged: boolean;
}

/** Whole series into requests of at most `maxSamples` samples (a series never exceeds it: see the batch bound). */
export function splitBatch(b: SeriesColumns, maxSamples: number): BatchRequest[] {
  const out: BatchRequest[] = [];
  const groups = b.labels.length;
  let from = 0;
  let merged = false;
  for (let g = 0; g < groups; g++) {
    const n = b.start[g + 1]! - b.start[g]!;
    if (g > from && b.start[g + 1]! - b.start[from]! > maxSamples) {
      out.push({ from, to: g, samples: b.start[g]! - b.start[from]!, merged });
      from = g;
      merged = false;
    }
    if (n > 1) merged = true;
  }
  if (groups > from) out.push({ from, to: groups, samples: b.start[groups]! - b.start[from]!, merged });
  return out;
}
