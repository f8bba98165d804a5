import type { NetLink } from '../domain/index.js';
import { ParseError } from './errors.js';

/**
 * /sys/class/net/IFACE/{operstate,carrier,speed}, as the probe prints them (one file each).
 * Reading carrier or speed of a link that is down fails with EINVAL: head prints the header
 * and nothing, so an empty file is "unknown". speed is Mbit/s; wifi, bridges, bonds and
 * virtual links print -1 or nothing: unknown too, never 0 (node_exporter skips them as well).
 */

const PATH = /^\/sys\/class\/net\/([^/]+)\/(operstate|carrier|speed)$/;
const OPER_STATES = new Set(['unknown', 'notpresent', 'down', 'lowerlayerdown', 'testing', 'dormant', 'up']);

/** Link state per interface, from the probe's files. A value of another shape throws ParseError. */
export function parseNetClass(files: ReadonlyMap<string, string>): Map<string, NetLink> {
  const out = new Map<string, NetLink>();
  for (const [path, text] of files) {
    const m = PATH.exec(path);
    if (!m) continue;
    const iface = m[1]!;
    const value = text.trim();
    const link = out.get(iface) ?? { iface };
    out.set(iface, link);
    if (value === '') continue;
    if (m[2] === 'operstate') {
      if (!OPER_STATES.has(value)) throw new ParseError(path, 'not an operstate (up, down, dormant, unknown…)', { text: value });
      link.operState = value;
    } else if (m[2] === 'carrier') {
      if (value !== '0' && value !== '1') throw new ParseError(path, 'carrier is not 0 or 1', { text: value });
      link.carrier = Number(value);
    } else {
      if (!/^-?[0-9]+$/.test(value)) throw new ParseError(path, 'speed is not an integer (Mbit/s)', { text: value });
      const mbits = Number(value);
      // Some drivers print SPEED_UNKNOWN unsigned (65535, 4294967295).
      if (mbits > 0 && mbits !== 65535 && mbits !== 4294967295) link.speedBytesPerSecond = mbits * 125_000;
    }
  }
  return out;
}
