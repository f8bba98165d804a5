import { createRequire } from 'node:module';
import protobuf from 'protobufjs';
import type * as Snappy from 'snappy';

/**
 * Prometheus remote write 1.0's wire format: prompb.WriteRequest (prometheus/prompb remote.proto
 * and types.proto, the fields 1.0 uses), encoded by protobufjs from the schema below and
 * compressed with snappy's block format (the `snappy` package, Google's C++ library), as the
 * spec asks: no hand-rolled protobuf or compression.
 */
/**
 * snappy is a native module, loaded on the first request encoded: a process without remote
 * write never loads it, and the Lambda bundle (contrib/serverless-bundle.cjs) leaves it out.
 */
let snappyModule: typeof Snappy | undefined;
function snappy(): typeof Snappy {
  try {
    return (snappyModule ??= createRequire(import.meta.url)('snappy') as typeof Snappy);
  } catch (e) {
    if ((e as { code?: string }).code !== 'MODULE_NOT_FOUND') throw e;
    throw new Error('Prometheus remote write needs the snappy module, which this build leaves out (the Lambda bundle): send remote write from a hub, or let Prometheus scrape GET /metrics', { cause: e });
  }
}

/** Whether this build can encode requests (the Lambda bundle leaves snappy out); it can queue them either way. */
export function snappyAvailable(): boolean {
  try {
    snappy();
    return true;
  } catch {
    return false;
  }
}

const PROTO = `
syntax = "proto3";
package prometheus;
message WriteRequest {
  repeated TimeSeries timeseries = 1;
  reserved 2;
  repeated MetricMetadata metadata = 3;
}
message MetricMetadata {
  enum MetricType {
    UNKNOWN = 0; COUNTER = 1; GAUGE = 2; HISTOGRAM = 3; GAUGEHISTOGRAM = 4; SUMMARY = 5; INFO = 6; STATESET = 7;
  }
  MetricType type = 1;
  string metric_family_name = 2;
  string help = 4;
  string unit = 5;
}
message Sample {
  double value = 1;
  int64 timestamp = 2;
}
message Label {
  string name = 1;
  string value = 2;
}
message TimeSeries {
  repeated Label labels = 1;
  repeated Sample samples = 2;
}
`;

const root = protobuf.parse(PROTO, { keepCase: true }).root;
export const WriteRequestType = root.lookupType('prometheus.WriteRequest');
const TimeSeriesType = root.lookupType('prometheus.TimeSeries');
/** WriteRequest.timeseries' key: its field number, wire type 2 (length-delimited), from the schema. */
const TIMESERIES_KEY = (WriteRequestType.fields.timeseries!.id << 3) | 2;

export interface Label {
  name: string;
  value: string;
}
export interface TimeSeries {
  /** Sorted by name, `__name__` first (the spec's rule). */
  labels: Label[];
  samples: { value: number; timestamp: number }[];
}

export const REMOTE_WRITE_HEADERS = {
  'content-encoding': 'snappy',
  'content-type': 'application/x-protobuf',
  'x-prometheus-remote-write-version': '0.1.0',
} as const;

/** A WriteRequest of these series, protobuf-encoded and snappy-compressed: the request body. */
export function encodeWriteRequest(timeseries: readonly TimeSeries[]): Buffer {
  const bytes = WriteRequestType.encode({ timeseries }).finish();
  return snappy().compressSync(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength));
}

/** A series' labels, encoded once by protobufjs as a TimeSeries holding only them. */
export function encodeLabels(labels: readonly Label[]): Uint8Array {
  return TimeSeriesType.encode({ labels }).finish();
}

/** A series whose labels are already encoded (encodeLabels), and one sample of it. */
export interface EncodedSeries {
  labels: Uint8Array;
  value: number;
  timestamp: number;
}

/**
 * Series as columns, each with one or more samples in time order: series `g` has labels
 * `labels[g]` (encodeLabels bytes) and the samples `start[g]` to `start[g + 1] - 1` of `values`
 * and `timestampsMs`. What a request is encoded from, whether it holds one round or a merged
 * backlog (shared/prometheus/backlog.ts).
 */
export interface SeriesColumns {
  labels: readonly Uint8Array[];
  start: Uint32Array;
  values: Float64Array;
  timestampsMs: Float64Array;
}

const SampleType = root.lookupType('prometheus.Sample');
/** TimeSeries.samples' key: field number, wire type 2. */
const SAMPLES_KEY = (TimeSeriesType.fields.samples!.id << 3) | 2;

/**
 * protobufjs' Writer queues every write as an op (`_push(fn, len, val)`: what its own bytes()
 * and string() call after writing the length). Appending a series' labels, encoded once, as
 * they are (no second length prefix) is that op with a copy. Not in the typings, hence the type.
 */
type OpWriter = protobuf.Writer & { _push(fn: (val: Uint8Array, buf: Uint8Array, pos: number) => void, len: number, val: Uint8Array): protobuf.Writer };
const copyInto = (val: Uint8Array, buf: Uint8Array, pos: number) => buf.set(val, pos);

/**
 * The WriteRequest of series `from` to `to - 1` of `c`, snappy-compressed: the same bytes as
 * encodeWriteRequest of those series (a test checks it). A series' labels repeat every round,
 * so they are encoded once (encodeLabels) and appended as bytes; each sample is encoded by the
 * schema's own Sample encoder into the same Writer, one scratch object for all of them (no
 * object per sample).
 */
export function encodeSeriesRequest(c: SeriesColumns, from = 0, to = c.labels.length): Buffer {
  const w = protobuf.Writer.create() as OpWriter;
  const sample = { value: 0, timestamp: 0 };
  for (let g = from; g < to; g++) {
    const labels = c.labels[g]!;
    w.uint32(TIMESERIES_KEY).fork();
    w._push(copyInto, labels.length, labels);
    for (let i = c.start[g]!, end = c.start[g + 1]!; i < end; i++) {
      sample.value = c.values[i]!;
      sample.timestamp = c.timestampsMs[i]!;
      SampleType.encode(sample, w.uint32(SAMPLES_KEY).fork()).ldelim();
    }
    w.ldelim();
  }
  const bytes = w.finish();
  return snappy().compressSync(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength));
}

/** snappy's block format, for the queue's rows (shared/prometheus/backlog.ts). */
export function compressBlock(raw: Buffer): Buffer {
  return snappy().compressSync(raw);
}
export function uncompressBlock(block: Buffer): Buffer {
  return snappy().uncompressSync(block) as Buffer;
}

/** The inverse, for tests and the bench's receiver. */
export function decodeWriteRequest(body: Buffer): { timeseries: TimeSeries[] } {
  const raw = snappy().uncompressSync(body) as Buffer;
  const msg = WriteRequestType.decode(raw);
  return WriteRequestType.toObject(msg, { longs: Number, defaults: true }) as { timeseries: TimeSeries[] };
}
