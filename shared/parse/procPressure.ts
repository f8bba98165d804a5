import type { PressureLine, PressureSample } from '../domain/index.js';
import { ParseError } from './errors.js';
import { linesOf, unsignedDecimal, unsignedInt } from './fields.js';

/**
 * /proc/pressure/{cpu,memory,io} (pressure stall information, Documentation/accounting/psi.rst):
 *
 *     some avg10=0.18 avg60=0.34 avg300=0.10 total=159886802
 *     full avg10=0.18 avg60=0.34 avg300=0.10 total=159229614
 *
 * avg* are percent of wall time some (or all non-idle) tasks were stalled on the resource;
 * total is µs stalled since boot. cpu has no `full` line before Linux 5.13. A kernel without
 * PSI (or booted with psi=0) has no such files: no data, not an error.
 */

export const PRESSURE_RESOURCES = ['cpu', 'memory', 'io'] as const;
const LINE = /^(some|full) avg10=(\S+) avg60=(\S+) avg300=(\S+) total=(\S+)$/;

/** Parse one pressure file. Garbage throws ParseError. */
export function parsePressure(resource: PressureSample['resource'], text: string): PressureSample {
  const file = `/proc/pressure/${resource}`;
  const lines: Partial<Record<'some' | 'full', PressureLine>> = {};
  linesOf(text).forEach((line, i) => {
    const m = LINE.exec(line.trimEnd());
    if (!m) throw new ParseError(file, 'not a "some|full avg10= avg60= avg300= total=" line', { line: i + 1, text: line });
    const kind = m[1] as 'some' | 'full';
    if (lines[kind]) throw new ParseError(file, `${kind} listed twice`, { line: i + 1, text: line });
    const at = (field: string) => ({ file, line: i + 1, field: `${kind} ${field}` });
    lines[kind] = {
      avg10: unsignedDecimal(m[2]!, at('avg10')),
      avg60: unsignedDecimal(m[3]!, at('avg60')),
      avg300: unsignedDecimal(m[4]!, at('avg300')),
      totalSeconds: unsignedInt(m[5]!, at('total')) / 1e6,
    };
  });
  if (!lines.some) throw new ParseError(file, 'no "some" line: not a pressure file', { text });
  const sample: PressureSample = { resource, some: lines.some };
  if (lines.full) sample.full = lines.full;
  return sample;
}

/** Percent of the interval stalled, from two totals (seconds); undefined when the total went back (a reboot). */
export function stallPercent(prevSeconds: number | undefined, curSeconds: number | undefined, intervalSeconds: number): number | undefined {
  if (prevSeconds === undefined || curSeconds === undefined || curSeconds < prevSeconds || !(intervalSeconds > 0)) return undefined;
  return ((curSeconds - prevSeconds) / intervalSeconds) * 100;
}
