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
