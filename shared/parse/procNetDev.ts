import type { NetDevCounters, NetRates } from '../domain/index.js';
import { ParseError } from './errors.js';
import { linesOf, unsignedInt, wordsOf } from './fields.js';

/**
 * /proc/net/dev: two header lines, then `iface: 16 counters` (8 receive, 8 transmit).
 * The name column is right-aligned to 6 characters, so a long name runs into its first
 * counter (`vethf345468:     648`, or with no space at all `enp0s31f6:1234`): split on the
 * first `:` (Linux forbids `:` and blanks in interface names).
 */

const FILE = '/proc/net/dev';
const COUNTERS = 16;

/** Parse /proc/net/dev, keeping every interface (the caller filters). Garbage throws ParseError. */
export function parseNetDev(text: string): NetDevCounters[] {
  const lines = linesOf(text);
  const [h1, h2, ...rows] = lines;
  if (h1 === undefined || !/^Inter-\|/.test(h1) || h2 === undefined || !/^ *face \|/.test(h2)) {
    throw new ParseError(FILE, 'no "Inter-|" / "face |" header: not /proc/net/dev', { line: 1, text: h1 ?? text });
  }
  const seen = new Set<string>();
  return rows.map((line, i) => {
    const lineNo = i + 3;
    const colon = line.indexOf(':');
    const iface = line.slice(0, Math.max(colon, 0)).trim();
    if (colon < 0 || iface === '' || /[\s/]/.test(iface)) {
      throw new ParseError(FILE, 'not an "iface: counters" line', { line: lineNo, text: line });
    }
    if (seen.has(iface)) throw new ParseError(FILE, `interface ${iface} listed twice`, { line: lineNo, text: line });
    seen.add(iface);
    const words = wordsOf(line.slice(colon + 1));
    if (words.length !== COUNTERS) {
      throw new ParseError(FILE, `${iface} has ${words.length} counters, expected ${COUNTERS}`, { line: lineNo, text: line });
    }
    const n = words.map((w, j) => unsignedInt(w, { file: FILE, line: lineNo, field: `${iface} column ${j + 1}` }));
    return {
      iface,
      rxBytes: n[0]!,
      rxPackets: n[1]!,
      rxErrors: n[2]!,
      rxDrops: n[3]!,
      txBytes: n[8]!,
      txPackets: n[9]!,
      txErrors: n[10]!,
      txDrops: n[11]!,
    };
  });
}

/** 2^32: 32-bit kernels (Raspberry Pi OS armhf) and some drivers keep 32-bit counters. */
export const COUNTER_32_BIT = 2 ** 32;

export interface NetRatesResult {
  /** One entry per interface present in both samples with sane counters, in the current order. */
  rates: NetRates[];
  /** Interfaces whose counters were reset between the samples (no rate for them). */
  resets: string[];
  /** Interfaces where a counter wrapped at 2^32 (rate computed across the wrap). */
  wraps: string[];
}

const RATE_FIELDS = [
  ['rxBytes', 'rxBytesPerSecond'],
  ['txBytes', 'txBytesPerSecond'],
  ['rxPackets', 'rxPacketsPerSecond'],
  ['txPackets', 'txPacketsPerSecond'],
  ['rxErrors', 'rxErrorsPerSecond'],
  ['txErrors', 'txErrorsPerSecond'],
  ['rxDrops', 'rxDropsPerSecond'],
  ['txDrops', 'txDropsPerSecond'],
] as const;

/**
 * Fastest link a 32-bit counter is taken to count (bytes/s): 1 Gbit/s line rate. A 32-bit
 * byte counter on a faster link wraps more than once in a 35 s interval, which no rule can see.
 */
export const WRAP_MAX_BYTES_PER_SECOND = 125_000_000;

/**
 * Per-second rates between two samples taken `intervalSeconds` apart.
 *
 * A counter that went backwards is a 32-bit wrap only when it was near the top of the 32-bit
 * range and is now near zero: the wrapped delta `cur + 2^32 − prev` is at most what a 1 Gbit/s
 * link moves in the interval (WRAP_MAX_BYTES_PER_SECOND × interval, 1.25 GB over 10 s) and at
 * most 2^31. Any other step back is a reset — the interface was re-created, the driver
 * reloaded, a 64-bit counter restarted (3 GB → 100 B over 10 s would be 129 MB/s across a
 * "wrap": more than the link carries) — and that interface gets no rate that round. A new
 * interface (no previous counters) has no rate either.
 */
export function netRates(
  prev: readonly NetDevCounters[] | undefined,
  cur: readonly NetDevCounters[],
  intervalSeconds: number,
): NetRatesResult {
  if (!(Number.isFinite(intervalSeconds) && intervalSeconds > 0)) {
    throw new RangeError(`netRates: intervalSeconds must be a positive number, got ${String(intervalSeconds)}`);
  }
  const result: NetRatesResult = { rates: [], resets: [], wraps: [] };
  if (prev === undefined) return result;
  const before = new Map(prev.map((c) => [c.iface, c] as const));
  for (const now of cur) {
    const then = before.get(now.iface);
    if (then === undefined) continue;
    const rate = { iface: now.iface, intervalSeconds } as NetRates;
    let reset = false;
    let wrapped = false;
    for (const [counter, perSecond] of RATE_FIELDS) {
      const d = counterDelta(then[counter], now[counter], intervalSeconds);
      if (d === 'reset') {
        reset = true;
        break;
      }
      wrapped ||= d.wrapped;
      rate[perSecond] = d.delta / intervalSeconds;
    }
    if (reset) result.resets.push(now.iface);
    else {
      if (wrapped) result.wraps.push(now.iface);
      result.rates.push(rate);
    }
  }
  return result;
}

function counterDelta(prev: number, cur: number, intervalSeconds: number): { delta: number; wrapped: boolean } | 'reset' {
  if (cur >= prev) return { delta: cur - prev, wrapped: false };
  const wrappedDelta = cur + COUNTER_32_BIT - prev;
  if (prev < COUNTER_32_BIT && wrappedDelta <= Math.min(COUNTER_32_BIT / 2, WRAP_MAX_BYTES_PER_SECOND * intervalSeconds)) {
    return { delta: wrappedDelta, wrapped: true };
  }
  return 'reset';
}
