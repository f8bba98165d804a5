import { ParseError } from './errors.js';

/** /proc/uptime: seconds since boot (first field). The node's own clock for rate intervals. */
export function parseUptime(text: string): number {
  const first = text.trim().split(/\s+/)[0] ?? '';
  if (!/^\d+(\.\d+)?$/.test(first)) throw new ParseError('/proc/uptime', 'not seconds since boot', { line: 1, text });
  return Number(first);
}
