/**
 * The Docker Engine API's container log stream (`GET /containers/{id}/logs`), as Docker and
 * Podman's compatible service send it: without a TTY, frames of an 8-byte header (stream
 * 1 = stdout, 2 = stderr; 3 zero bytes; a big-endian uint32 payload size) and the payload; with
 * a TTY, raw bytes. With `timestamps=true` every line starts with its RFC 3339 time with
 * nanoseconds and a space: `2026-05-01T10:00:00.123456789Z {"latency_ms":…}`.
 */

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

/**
 * Complete lines of a demultiplexed, timestamped log, in order. A last line without its newline
 * is not returned (`partial` says how many bytes were left over): it may still be being written,
 * and is read whole next time. A line whose prefix is not a timestamp is returned with the
 * previous line's time (an engine never writes one; kept so nothing is silently lost).
 */
export function splitTimestampedLines(buf: Buffer): { lines: LogLine[]; partialBytes: number } {
  const lines: LogLine[] = [];
  let start = 0;
  let lastNs = 0n;
  let lastTs = '';
  for (;;) {
    const nl = buf.indexOf(10, start);
    if (nl < 0) break;
    let end = nl;
    if (end > start && buf[end - 1] === 13) end--;
    const sp = buf.indexOf(32, start);
    let textStart = start;
    if (sp > start && sp < end && sp - start <= 40) {
      const ts = buf.toString('latin1', start, sp);
      const ns = parseLogTimestamp(ts);
      if (ns !== undefined) {
        lastNs = ns;
        lastTs = ts;
        textStart = sp + 1;
      }
    }
    lines.push({ timeUnixNs: lastNs, timestamp: lastTs, text: buf.toString('utf8', textStart, end), bytes: end - textStart });
    start = nl + 1;
  }
  return { lines, partialBytes: buf.length - start };
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

export class FrameDemuxer {
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

  push(chunk: Buffer): Buffer[] {
    if (this.mode === 'raw') return [chunk];
    const buf = this.carry ? Buffer.concat([this.carry, chunk]) : chunk;
    this.carry = undefined;
    if (this.mode === 'unknown') {
      if (buf.length < 8) {
        this.carry = buf;
        return [];
      }
      this.mode = isMultiplexed(buf) ? 'framed' : 'raw';
      if (this.mode === 'raw') return [buf];
    }
    const out: Buffer[] = [];
    const mine = (type: number) => type === this.stream || type === 0;
    let i = 0;
    if (this.owed > 0) {
      const take = Math.min(this.owed, buf.length);
      if (mine(this.owedType)) this.emit(out, buf.subarray(0, take), false);
      this.owed -= take;
      i = take;
    }
    while (i + 8 <= buf.length) {
      const type = buf[i]!;
      const size = buf.readUInt32BE(i + 4);
      const end = i + 8 + size;
      if (end > buf.length) {
        if (size <= MAX_CARRIED_FRAME_BYTES) break; // carried whole to the next chunk
        if (mine(type)) this.emit(out, buf.subarray(i + 8), true);
        this.owed = end - buf.length;
        this.owedType = type;
        i = buf.length;
        break;
      }
      if (mine(type)) this.emit(out, buf.subarray(i + 8, end), true);
      i = end;
    }
    if (i < buf.length) this.carry = Buffer.from(buf.subarray(i));
    return out;
  }

  private emit(out: Buffer[], payload: Buffer, frameStart: boolean): void {
    if (payload.length === 0) return;
    if (frameStart && this.midLine && this.o.timestamps) {
      const sp = payload.indexOf(32);
      if (sp > 0 && sp <= 40 && parseLogTimestamp(payload.toString('latin1', 0, sp)) !== undefined) payload = payload.subarray(sp + 1);
    }
    if (payload.length === 0) return;
    out.push(payload);
    this.midLine = payload[payload.length - 1] !== 10;
  }
}
