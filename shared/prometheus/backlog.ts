import { compressBlock, uncompressBlock, type EncodedSeries, type SeriesColumns } from './writeRequest.js';
import type { SeriesRef } from '../store/remoteWrite.js';

/**
 * The remote-write queue's rows and how a backlog of them becomes requests.
 *
 * A row (remote_write_queue.format 3) is one round's chunk of series, one sample each, as
 * columns: u32 n, u32 3, n × f64 value, n × f64 timestamp (ms), n × u32 series id (the id in
 * remote_write_series, where each series' labels are stored once). About 20 bytes a sample, not
 * compressed (values and times do not compress much; the labels were what snappy had to chew).
 * Nothing is protobuf-encoded at queue time: the samples are encoded once, when a request is
 * built, whether it holds one round or a merged backlog. Format 2 (rows queued before migration
 * 18) is the same with each series' labels in the row, snappy-compressed: u32 n, u32 0, the
 * values and times, (n + 1) × u32 offsets of the labels after them, the labels.
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

/** One round's series, one sample each, as columns (what roundSeries builds); `refs[i].labels` is `labels[i]`. */
export interface RoundColumns {
  labels: Uint8Array[];
  refs: SeriesRef[];
  values: number[];
  timestampsMs: number[];
}

export function roundColumnsOf(series: readonly EncodedSeries[]): RoundColumns {
  return { labels: series.map((s) => s.labels), refs: series.map((s) => ({ labels: s.labels })), values: series.map((s) => s.value), timestampsMs: series.map((s) => s.timestamp) };
}

const FORMAT_3 = 3;

/** Samples `from` to `to - 1` of a round as a queue row (format 3), the series by `ids` (resolveSeries). */
export function encodeIdRow(c: RoundColumns, ids: Uint32Array, from = 0, to = c.values.length): Buffer {
  const n = to - from;
  const raw = Buffer.allocUnsafe(HEADER_BYTES + 20 * n);
  raw.writeUInt32LE(n, 0);
  raw.writeUInt32LE(FORMAT_3, 4);
  const v = new Float64Array(raw.buffer, raw.byteOffset + HEADER_BYTES, 2 * n);
  for (let i = 0; i < n; i++) {
    v[i] = c.values[from + i]!;
    v[n + i] = c.timestampsMs[from + i]!;
  }
  new Uint32Array(raw.buffer, raw.byteOffset + HEADER_BYTES + 16 * n, n).set(ids.subarray(from, to));
  return raw;
}

/** The series of format-3 rows, merged: each series once (by id), its samples in queue order. */
export interface MergedIds {
  ids: Uint32Array;
  start: Uint32Array;
  values: Float64Array;
  timestampsMs: Float64Array;
  duplicates: number;
}

/**
 * Group the samples of format-3 `rows` (queue order) by series id. A series' second sample at a
 * time it already has (or before it) is left out and counted: Prometheus would refuse the request.
 */
export function mergeIdRows(rows: readonly MergeRow[]): MergedIds {
  const acc = new GroupedSamples(rows);
  const total = acc.total;
  const ids = new Uint32Array(total);
  // Ids are handed out densely: a table indexed by id when that is small, else a Map.
  let maxId = 0;
  for (const row of rows) {
    const n = row.payload.readUInt32LE(0);
    for (let i = 0, at = HEADER_BYTES + 16 * n; i < n && at + 4 <= row.payload.length; i++, at += 4) maxId = Math.max(maxId, row.payload.readUInt32LE(at));
  }
  const dense = maxId < 4 * total + 65_536 ? new Int32Array(maxId + 1).fill(-1) : undefined;
  const byId = dense ? undefined : new Map<number, number>();
  for (const row of rows) {
    const raw = row.payload;
    const n = raw.readUInt32LE(0);
    if (n !== row.samples || raw.readUInt32LE(4) !== FORMAT_3 || raw.length !== HEADER_BYTES + 20 * n) throw new Error(`remote write queue: a row says ${row.samples} samples and holds ${n} (${raw.length} bytes)`);
    // Copied out: the payload need not be 8-byte aligned for a Float64Array view.
    const cols = new Float64Array(2 * n);
    Buffer.from(cols.buffer).set(raw.subarray(HEADER_BYTES, HEADER_BYTES + 16 * n));
    const rowIds = new Uint32Array(n);
    Buffer.from(rowIds.buffer).set(raw.subarray(HEADER_BYTES + 16 * n));
    for (let i = 0; i < n; i++) {
      const id = rowIds[i]!;
      let g = dense ? dense[id]! : byId!.get(id);
      if (g === undefined || g < 0) {
        g = acc.newGroup();
        if (dense) dense[id] = g;
        else byId!.set(id, g);
        ids[g] = id;
      }
      acc.add(g, cols[i]!, cols[n + i]!);
    }
  }
  return { ids: ids.slice(0, acc.groups), ...acc.sorted() };
}

/**
 * What both merges share once a sample's series is found (each finds it its own way): the samples
 * by series group in queue order, a series' sample at a time it already has (or before) left out
 * and counted, and at the end a stable counting sort by group.
 */
class GroupedSamples {
  readonly groupOf: Uint32Array;
  readonly valueIn: Float64Array;
  readonly timeIn: Float64Array;
  /** count[g + 1]: samples of group g. */
  readonly count: Uint32Array;
  readonly lastTime: Float64Array;
  /** The rows' samples, duplicates included: as many groups as there can be. */
  readonly total: number;
  groups = 0;
  samples = 0;
  duplicates = 0;

  constructor(rows: readonly MergeRow[]) {
    let total = 0;
    for (const r of rows) total += r.samples;
    this.total = total;
    this.groupOf = new Uint32Array(total);
    this.valueIn = new Float64Array(total);
    this.timeIn = new Float64Array(total);
    this.count = new Uint32Array(total + 1);
    this.lastTime = new Float64Array(total);
  }

  newGroup(): number {
    this.lastTime[this.groups] = -Infinity;
    return this.groups++;
  }

  add(g: number, value: number, t: number): void {
    if (t <= this.lastTime[g]!) {
      this.duplicates++;
      return;
    }
    const k = this.samples++;
    this.lastTime[g] = t;
    this.groupOf[k] = g;
    this.valueIn[k] = value;
    this.timeIn[k] = t;
    this.count[g + 1]!++;
  }

  /** Each group's samples together (`start[g]` to `start[g + 1]`), in queue order. */
  sorted(): { start: Uint32Array; values: Float64Array; timestampsMs: Float64Array; duplicates: number } {
    const { groups, samples: k, duplicates } = this;
    const start = new Uint32Array(groups + 1);
    for (let g = 0; g < groups; g++) start[g + 1] = start[g]! + this.count[g + 1]!;
    // One sample per series (one round): already in order. Else a counting sort by series,
    // stable: each series' samples stay in queue order.
    if (groups === k) return { start, values: this.valueIn.subarray(0, k), timestampsMs: this.timeIn.subarray(0, k), duplicates };
    const next = start.slice(0, groups);
    const values = new Float64Array(k);
    const timestampsMs = new Float64Array(k);
    for (let i = 0; i < k; i++) {
      const at = next[this.groupOf[i]!]!++;
      values[at] = this.valueIn[i]!;
      timestampsMs[at] = this.timeIn[i]!;
    }
    return { start, values, timestampsMs, duplicates };
  }
}

/** Series `from` to `to - 1` of a round, one sample each, as a request is encoded from. */
export function roundBatch(c: RoundColumns, from = 0, to = c.labels.length): SeriesColumns {
  const n = to - from;
  const start = new Uint32Array(n + 1);
  for (let i = 0; i <= n; i++) start[i] = i;
  return { labels: c.labels.slice(from, to), start, values: Float64Array.from(c.values.slice(from, to)), timestampsMs: Float64Array.from(c.timestampsMs.slice(from, to)) };
}

/** A chunk of one round as a format-2 row, compressed: what edgefleet queued before migration 18 (tests of those rows). */
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

/** The series of format-2 rows, merged: each series once, its samples in queue order. */
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
  const acc = new GroupedSamples(rows);
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
        g = acc.newGroup();
        labels.push(raw.subarray(s, e));
        byLabels?.set(raw.toString('latin1', s, e), g);
      }
      guess = g + 1;
      acc.add(g, raw.readDoubleLE(HEADER_BYTES + 8 * i), raw.readDoubleLE(HEADER_BYTES + 8 * (n + i)));
    }
  }
  return { labels, ...acc.sorted() };
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
