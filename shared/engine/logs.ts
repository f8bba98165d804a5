/**
 * The Docker Engine API's container log stream (`GET /containers/{id}/logs`), as Docker and
 * Podman's compatible service send it: without a TTY, frames of an 8-byte header (stream
 * 1 = stdout, 2 = stderr; 3 zero bytes; a big-endian uint32 payload size) and the payload; with
 * a TTY, raw bytes. With `timestamps=true` every line starts with its RFC 3339 time with
 * nanoseconds and a space: `2026-05-01T10:00:00.123456789Z {"latency_ms":…}`.
 */

/** Is this buffer framed (multiplexed) rather than raw TTY output? */
export function isMultiplexed(buf: Buffer): boolean {
  return buf.length >= 8 && buf[0]! <= 2 && buf[1] === 0 && buf[2] === 0 && buf[3] === 0;
}

/**
 * The payload of the given stream (1 = stdout, 2 = stderr) out of a multiplexed buffer, frames
 * joined (a line may span frames). A truncated last frame is kept up to where it ends. Raw
 * (TTY) buffers pass through whole.
 */
export function demuxStream(buf: Buffer, stream: 1 | 2 = 1): Buffer {
  if (!isMultiplexed(buf)) return buf;
  const parts: Buffer[] = [];
  let i = 0;
  while (i + 8 <= buf.length) {
    const type = buf[i]!;
    const size = buf.readUInt32BE(i + 4);
    const end = Math.min(buf.length, i + 8 + size);
    if (type === stream || type === 0) parts.push(buf.subarray(i + 8, end));
    i = i + 8 + size;
  }
  return parts.length === 1 ? parts[0]! : Buffer.concat(parts);
}

const TS = /^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})(?:\.(\d{1,9}))?(Z|[+-]\d{2}:\d{2})$/;

/** `2026-05-01T10:00:00.123456789Z` (or with an offset; fewer digits allowed) → nanoseconds; undefined if not one. */
let cachedSecond = '';
let cachedMs = NaN;
export function parseLogTimestamp(ts: string): bigint | undefined {
  const m = TS.exec(ts);
  if (!m) return undefined;
  // Lines come many to a second: the date is parsed once per second.
  const second = m[1]! + m[3]!;
  if (second !== cachedSecond) {
    cachedMs = Date.parse(second);
    cachedSecond = second;
  }
  if (!Number.isFinite(cachedMs)) return undefined;
  return BigInt(cachedMs) * 1_000_000n + BigInt((m[2] ?? '').padEnd(9, '0'));
}

/** The engine's time of a log line; lines that carry the same timestamp share one. */
export interface LogTime {
  /** Nanoseconds since the epoch. */
  unixNs: bigint;
  /** The timestamp as the engine wrote it. */
  timestamp: string;
}

const NO_TIME: LogTime = { unixNs: 0n, timestamp: '' };
/** An RFC 3339 time with nanoseconds and an offset is 35 characters; a longer prefix is not one. */
const TIMESTAMP_MAX_BYTES = 40;

/**
 * Every complete line of a demultiplexed, timestamped log, in order, as `onLine(time, textStart,
 * textEnd)`: the line's time and where its text lies in `buf` (after the timestamp and its space,
 * without the newline or a `\r`). Nothing is made per line: a timestamp the same as the line
 * before's (Podman stamps whole seconds, so thousands of lines share one) is compared as bytes
 * and its LogTime reused. A line whose prefix is not a timestamp (an engine never writes one)
 * gets the previous line's time, so nothing is silently lost. Returns how many bytes after the
 * last newline were left: a last line still being written, read whole next time.
 */
export function scanTimestampedLines(buf: Buffer, onLine: (time: LogTime, textStart: number, textEnd: number) => void): number {
  let start = 0;
  let time = NO_TIME;
  // Where `time`'s timestamp lies in buf (-1: not in buf).
  let tsStart = -1;
  let tsEnd = -1;
  for (;;) {
    const nl = buf.indexOf(10, start);
    if (nl < 0) break;
    let end = nl;
    if (end > start && buf[end - 1] === 13) end--;
    let sp = start;
    const spMax = Math.min(end, start + TIMESTAMP_MAX_BYTES + 1);
    while (sp < spMax && buf[sp] !== 32) sp++;
    let textStart = start;
    if (sp > start && sp < spMax) {
      if (sp - start === tsEnd - tsStart && buf.compare(buf, tsStart, tsEnd, start, sp) === 0) textStart = sp + 1;
      else {
        const ts = buf.toString('latin1', start, sp);
        const ns = parseLogTimestamp(ts);
        if (ns !== undefined) {
          time = { unixNs: ns, timestamp: ts };
          tsStart = start;
          tsEnd = sp;
          textStart = sp + 1;
        }
      }
    }
    onLine(time, textStart, end);
    start = nl + 1;
  }
  return buf.length - start;
}

/** One complete line of the log, with the engine's timestamp. */
export interface LogLine {
  /** The engine's time of the line, nanoseconds since the epoch. */
  timeUnixNs: bigint;
  /** The timestamp as the engine wrote it. */
  timestamp: string;
  /** The line after the timestamp, without its newline. */
  text: string;
  /** `text`'s length in UTF-8 bytes. */
  bytes: number;
}

/** scanTimestampedLines as a list of lines (`partialBytes`: the bytes after the last newline). */
export function splitTimestampedLines(buf: Buffer): { lines: LogLine[]; partialBytes: number } {
  const lines: LogLine[] = [];
  const partialBytes = scanTimestampedLines(buf, (t, s, e) => lines.push({ timeUnixNs: t.unixNs, timestamp: t.timestamp, text: buf.toString('utf8', s, e), bytes: e - s }));
  return { lines, partialBytes };
}

/**
 * The log stream demultiplexed as it arrives: feed it the engine's chunks in order, get back
 * the payload of one stream (1 = stdout). Frames split across chunks are carried whole to the
 * next one (a frame over MAX_CARRIED_FRAME_BYTES passes through in pieces); raw (TTY) streams,
 * told by their first bytes, pass through.
 *
 * With `timestamps`, a line the engine logged in parts (Docker splits messages at 16 KiB;
 * Podman logs what the program wrote in one write as one partial record, so a line written in
 * two pieces is two frames) comes as frames that each start with a timestamp, only the last
 * ending in a newline: the timestamps of the continuations are dropped, so the line is whole
 * again, with the time of its first part.
 */
export const MAX_CARRIED_FRAME_BYTES = 1 << 20;

/** Where a payload piece lies: `buf[start, end)`, valid only during the call. */
export type PayloadSink = (buf: Buffer, start: number, end: number) => void;

export class FrameDemuxer {
  /** The start of a frame the last chunk ended inside (its header, or a frame ≤ MAX_CARRIED_FRAME_BYTES). */
  private carry: Buffer | undefined;
  private mode: 'unknown' | 'framed' | 'raw' = 'unknown';
  /** Payload bytes still owed by an oversized frame that the last chunk ended inside. */
  private owed = 0;
  private owedType = 0;
  /** The last payload of our stream did not end a line: the next frame continues it. */
  private midLine = false;

  constructor(
    private readonly stream: 1 | 2 = 1,
    private readonly o: { timestamps?: boolean } = {},
  ) {}

  /** The payload pieces of our stream in `chunk` (and what it completes of the chunk before). */
  push(chunk: Buffer): Buffer[] {
    const out: Buffer[] = [];
    this.feed(chunk, (b, s, e) => out.push(s === 0 && e === b.length ? b : b.subarray(s, e)));
    return out;
  }

  /**
   * push without an array or a Buffer per frame (a log is a million frames of one line each):
   * each piece is handed to `sink` where it lies. Only a frame cut by the chunk's end is copied,
   * never the chunk.
   */
  feed(chunk: Buffer, sink: PayloadSink): void {
    let i = 0;
    if (this.mode === 'unknown') {
      const head = this.carry ? Buffer.concat([this.carry, chunk]) : chunk;
      this.carry = undefined;
      if (head.length < 8) {
        this.carry = head;
        return;
      }
      this.mode = isMultiplexed(head) ? 'framed' : 'raw';
      chunk = head;
    }
    if (this.mode === 'raw') {
      if (chunk.length > 0) sink(chunk, 0, chunk.length);
      return;
    }
    if (this.owed > 0) {
      const take = Math.min(this.owed, chunk.length);
      if (this.mine(this.owedType)) this.emit(sink, chunk, 0, take, false);
      this.owed -= take;
      i = take;
    }
    if (this.carry) i = this.finishCarried(chunk, i, sink);
    while (i + 8 <= chunk.length) {
      const type = chunk[i]!;
      const size = chunk.readUInt32BE(i + 4);
      const end = i + 8 + size;
      if (end > chunk.length) {
        if (size <= MAX_CARRIED_FRAME_BYTES) break; // carried whole to the next chunk
        if (this.mine(type)) this.emit(sink, chunk, i + 8, chunk.length, true);
        this.owed = end - chunk.length;
        this.owedType = type;
        return;
      }
      if (this.mine(type)) this.emit(sink, chunk, i + 8, end, true);
      i = end;
    }
    if (i < chunk.length) this.carry = Buffer.from(chunk.subarray(i));
  }

  private mine(type: number): boolean {
    return type === this.stream || type === 0;
  }

  /** Completes the carried frame from the chunk's bytes at `i`; returns where the chunk goes on. */
  private finishCarried(chunk: Buffer, i: number, sink: PayloadSink): number {
    let head = this.carry!;
    this.carry = undefined;
    if (head.length < 8) {
      const take = Math.min(8 - head.length, chunk.length - i);
      head = Buffer.concat([head, chunk.subarray(i, i + take)]);
      i += take;
      if (head.length < 8) {
        this.carry = head;
        return i;
      }
    }
    const type = head[0]!;
    const size = head.readUInt32BE(4);
    if (size > MAX_CARRIED_FRAME_BYTES) {
      // Only its header was carried: its payload passes through as it comes.
      const take = Math.min(size, chunk.length - i);
      if (this.mine(type)) this.emit(sink, chunk, i, i + take, true);
      this.owed = size - take;
      this.owedType = type;
      return i + take;
    }
    const take = Math.min(8 + size - head.length, chunk.length - i);
    head = Buffer.concat([head, chunk.subarray(i, i + take)]);
    i += take;
    if (head.length < 8 + size) this.carry = head;
    else if (this.mine(type)) this.emit(sink, head, 8, head.length, true);
    return i;
  }

  private emit(sink: PayloadSink, buf: Buffer, start: number, end: number, frameStart: boolean): void {
    if (frameStart && this.midLine && this.o.timestamps) {
      let sp = start;
      const spMax = Math.min(end, start + TIMESTAMP_MAX_BYTES + 1);
      while (sp < spMax && buf[sp] !== 32) sp++;
      if (sp > start && sp < spMax && parseLogTimestamp(buf.toString('latin1', start, sp)) !== undefined) start = sp + 1;
    }
    if (end <= start) return;
    sink(buf, start, end);
    this.midLine = buf[end - 1] !== 10;
  }
}

/**
 * Demultiplexed stdout gathered for one commit in one buffer that is reused and grows as needed:
 * pieces are copied in (no Buffer per piece, no concat), the complete lines are read where they
 * lie, and the partial last line moves to the front for the next chunk.
 */
export class StdoutBuffer {
  private buf: Buffer;
  /** Bytes held. */
  length = 0;

  constructor(initialBytes: number) {
    this.buf = Buffer.allocUnsafe(Math.max(1024, initialBytes));
  }

  /** A PayloadSink: appends `src[start, end)`. */
  readonly append: PayloadSink = (src, start, end) => {
    const n = end - start;
    if (this.length + n > this.buf.length) {
      const bigger = Buffer.allocUnsafe(Math.max(this.buf.length * 2, this.length + n));
      this.buf.copy(bigger, 0, 0, this.length);
      this.buf = bigger;
    }
    src.copy(this.buf, this.length, start, end);
    this.length += n;
  };

  /** The complete lines held (up to the last newline): a view, valid until the next append or take. */
  completeLines(): Buffer {
    const nl = this.length === 0 ? -1 : this.buf.lastIndexOf(10, this.length - 1);
    return this.buf.subarray(0, nl + 1);
  }

  clear(): void {
    this.length = 0;
  }

  /** Drops the first `bytes` (read): what follows moves to the front. */
  take(bytes: number): void {
    this.buf.copyWithin(0, bytes, this.length);
    this.length -= bytes;
  }
}
