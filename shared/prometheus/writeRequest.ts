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
 * The same request as encodeWriteRequest, faster: a series' labels repeat every round, so they
 * are encoded once (encodeLabels) and each round only its sample is (a TimeSeries holding only
 * the sample). Labels-only plus sample-only is the whole TimeSeries: protobuf merges two
 * encodings of one message by concatenation, repeated fields appended. protobufjs's Writer
 * frames each as WriteRequest.timeseries.
 */
export function encodeWriteRequestFrom(series: readonly EncodedSeries[]): Buffer {
  const w = protobuf.Writer.create();
  for (const s of series) {
    const sample = TimeSeriesType.encode({ samples: [{ value: s.value, timestamp: s.timestamp }] }).finish();
    const both = new Uint8Array(s.labels.length + sample.length);
    both.set(s.labels, 0);
    both.set(sample, s.labels.length);
    w.uint32(TIMESERIES_KEY).bytes(both);
  }
  const bytes = w.finish();
  return snappy().compressSync(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength));
}

/** The inverse, for tests and the bench's receiver. */
export function decodeWriteRequest(body: Buffer): { timeseries: TimeSeries[] } {
  const raw = snappy().uncompressSync(body) as Buffer;
  const msg = WriteRequestType.decode(raw);
  return WriteRequestType.toObject(msg, { longs: Number, defaults: true }) as { timeseries: TimeSeries[] };
}
