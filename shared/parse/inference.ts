/**
 * The inference protocol (docs/inference-protocol.md): a model container prints one JSON object
 * per line on stdout per inference. Pure: a line in, a record or the reason it is not one out.
 *
 * JSON numbers are read as JSON numbers (`4.78e-05` is 0.0000478), never by a regular
 * expression over the text, which is how the system this replaces turned it into `478246.1`.
 */
import type { InferenceRecord } from '../domain/index.js';
import { quote } from './errors.js';

/** Longer lines are ignored unread: no inference needs 64 KiB, and JSON.parse of megabytes stalls the hub. */
export const INFERENCE_LINE_MAX_BYTES = 65536;
/** Longest text field kept (`label`, `input_id`, `expected`, `error`); longer is refused. */
export const INFERENCE_TEXT_MAX_CHARS = 1024;
/** A `ts` before 2000-01-01 is taken as a mistake (seconds instead of milliseconds), not a time. */
const TS_MIN_UNIX_MS = 946684800000;
/** …and one after the year 3000 likewise (microseconds or nanoseconds instead of milliseconds). */
const TS_MAX_UNIX_MS = 32503680000000;

/**
 * What one line is:
 * - `inference`: a protocol line, its record;
 * - `ignored`: not meant for us (a log message, a banner, a partial line, a JSON object without
 *   `latency_ms` or `error`): counted, never stored;
 * - `invalid`: meant for us (it has `latency_ms` or `error`) but a field is wrong: counted, with the reason.
 */
export type InferenceLine =
  | { kind: 'inference'; record: InferenceRecord }
  | { kind: 'ignored'; reason: 'empty' | 'not-json' | 'not-object' | 'not-inference' | 'too-long' }
  | { kind: 'invalid'; reason: string };

const FIELDS = new Set(['ts', 'latency_ms', 'preprocess_ms', 'infer_ms', 'postprocess_ms', 'batch', 'input_id', 'label', 'score', 'expected', 'error']);

class FieldError extends Error {}

function milliseconds(o: Record<string, unknown>, key: string): number | undefined {
  const v = o[key];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'number' || !Number.isFinite(v) || v < 0) throw new FieldError(`${key} must be a number of milliseconds ≥ 0, not ${quote(JSON.stringify(v))}`);
  return v;
}

/** Labels may be class names or class numbers: kept as text, so `2` and `"2"` compare equal. */
function text(o: Record<string, unknown>, key: string): string | undefined {
  const v = o[key];
  if (v === undefined || v === null) return undefined;
  if (typeof v === 'number' && Number.isFinite(v)) return String(v);
  if (typeof v !== 'string') throw new FieldError(`${key} must be a string or a number, not ${quote(JSON.stringify(v))}`);
  if (v.length > INFERENCE_TEXT_MAX_CHARS) throw new FieldError(`${key} is longer than ${INFERENCE_TEXT_MAX_CHARS} characters`);
  return v;
}

function timestamp(v: unknown): number | undefined {
  if (v === undefined || v === null) return undefined;
  let ms: number;
  if (typeof v === 'number') ms = v;
  else if (typeof v === 'string' && /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/.test(v)) ms = Date.parse(v);
  else throw new FieldError(`ts must be unix milliseconds or an RFC 3339 time, not ${quote(JSON.stringify(v))}`);
  if (!Number.isFinite(ms) || ms < TS_MIN_UNIX_MS || ms > TS_MAX_UNIX_MS) throw new FieldError(`ts ${quote(JSON.stringify(v))} is not a time after 2000 in unix milliseconds`);
  return ms;
}

/** A parsed JSON object → a record (or throws FieldError). Shared by the log path and POST /inference. */
export function inferenceRecord(o: Record<string, unknown>): InferenceRecord {
  const r: InferenceRecord = { batch: 1 };
  const ts = timestamp(o.ts);
  if (ts !== undefined) r.timeUnixMs = ts;
  const latency = milliseconds(o, 'latency_ms');
  const error = text(o, 'error');
  if (latency === undefined && error === undefined) throw new FieldError('latency_ms is missing (only an inference with an error may leave it out)');
  if (latency !== undefined) r.latencyMs = latency;
  if (error !== undefined && error !== '') r.error = error;
  const pre = milliseconds(o, 'preprocess_ms');
  if (pre !== undefined) r.preprocessMs = pre;
  const inf = milliseconds(o, 'infer_ms');
  if (inf !== undefined) r.inferMs = inf;
  const post = milliseconds(o, 'postprocess_ms');
  if (post !== undefined) r.postprocessMs = post;
  if (o.batch !== undefined && o.batch !== null) {
    if (typeof o.batch !== 'number' || !Number.isInteger(o.batch) || o.batch < 1) throw new FieldError(`batch must be a whole number ≥ 1, not ${quote(JSON.stringify(o.batch))}`);
    r.batch = o.batch;
  }
  const inputId = text(o, 'input_id');
  if (inputId !== undefined) r.inputId = inputId;
  const label = text(o, 'label');
  if (label !== undefined) r.label = label;
  if (o.score !== undefined && o.score !== null) {
    if (typeof o.score !== 'number' || !Number.isFinite(o.score)) throw new FieldError(`score must be a number, not ${quote(JSON.stringify(o.score))}`);
    r.score = o.score;
  }
  const expected = text(o, 'expected');
  if (expected !== undefined) r.expected = expected;
  return r;
}

/** Is this object meant as an inference (it names `latency_ms` or `error`)? */
export const looksLikeInference = (o: Record<string, unknown>) => 'latency_ms' in o || 'error' in o;

/**
 * One stdout line (without its newline; a trailing `\r` is allowed). `byteLength`, when the
 * caller knows it, saves measuring the line again.
 */
export function parseInferenceLine(line: string, byteLength?: number): InferenceLine {
  if ((byteLength ?? (line.length > INFERENCE_LINE_MAX_BYTES / 4 ? Buffer.byteLength(line, 'utf8') : line.length)) > INFERENCE_LINE_MAX_BYTES) return { kind: 'ignored', reason: 'too-long' };
  let start = 0;
  while (start < line.length && (line.charCodeAt(start) === 32 || line.charCodeAt(start) === 9)) start++;
  if (start === line.length || (line.length - start === 1 && line.charCodeAt(start) === 13)) return { kind: 'ignored', reason: 'empty' };
  if (line.charCodeAt(start) !== 123 /* { */) return { kind: 'ignored', reason: 'not-json' };
  let v: unknown;
  try {
    v = JSON.parse(line);
  } catch {
    return { kind: 'ignored', reason: 'not-json' };
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return { kind: 'ignored', reason: 'not-object' };
  const o = v as Record<string, unknown>;
  if (!looksLikeInference(o)) return { kind: 'ignored', reason: 'not-inference' };
  try {
    return { kind: 'inference', record: inferenceRecord(o) };
  } catch (e) {
    if (e instanceof FieldError) return { kind: 'invalid', reason: e.message };
    throw e;
  }
}

/** Validate one pushed record (POST /inference): the record, or the reason. */
export function parseInferenceObject(v: unknown): { record: InferenceRecord } | { error: string } {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return { error: 'not a JSON object' };
  try {
    return { record: inferenceRecord(v as Record<string, unknown>) };
  } catch (e) {
    if (e instanceof FieldError) return { error: e.message };
    throw e;
  }
}

/** The protocol's field names (unknown fields are allowed and ignored, for forward compatibility). */
export const INFERENCE_FIELDS: ReadonlySet<string> = FIELDS;
