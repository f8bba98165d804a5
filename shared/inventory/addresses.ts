import { detectRange, expandHostnameRange } from './ranges.js';

// Regexes of ansible/parsing/utils/addresses.py, transcribed; \w is Python's Unicode \w.
const W = '[\\p{L}\\p{N}_]';
const NUMERIC_RANGE = '\\[(?:[0-9]+:[0-9]+)(?::[0-9]+)?\\]';
const HEX_RANGE = '\\[(?:[0-9a-f]+:[0-9a-f]+)(?::[0-9]+)?\\]';
const ALNUM_RANGE = '\\[(?:[a-z]:[a-z]|[0-9]+:[0-9]+)(?::[0-9]+)?\\]';
const V6C = `(?:[0-9a-f]{1,4}|${HEX_RANGE})`;
const V4C = `(?:[01]?[0-9]{1,2}|2[0-4][0-9]|25[0-5]|${NUMERIC_RANGE})`;
const LABEL = `(?:${W}|${ALNUM_RANGE})(?:[\\p{L}\\p{N}_-]|${ALNUM_RANGE})*(?<![_-])`;

const BRACKETED_HOSTPORT = /^\[(.+)\]:([0-9]+)$/su;
const HOSTPORT = /^((?:[^:[\]]|\[[^\]]*\])*):([0-9]+)$/su;
const IPV4 = new RegExp(`^(?:${V4C}\\.){3}${V4C}$`, 'iu');
// In Python the '^' and '$' of this verbose pattern bind only to its first and last
// alternatives, and re.match anchors the start; so only the last alternative is end-anchored.
const IPV6 = new RegExp(
  '^(?:' +
    [
      `(?:${V6C}:){7}${V6C}`,
      `(?:${V6C}:){1,6}:`,
      `(?:${V6C}:)(?::${V6C}){1,6}`,
      `(?:${V6C}:){2}(?::${V6C}){1,5}`,
      `(?:${V6C}:){3}(?::${V6C}){1,4}`,
      `(?:${V6C}:){4}(?::${V6C}){1,3}`,
      `(?:${V6C}:){5}(?::${V6C}){1,2}`,
      `(?:${V6C}:){6}(?::${V6C})`,
      `:(?::${V6C}){1,6}`,
      `${V6C}?::`,
      `(?:0:){6}(?:${V6C}\\.){3}${V6C}`,
      `::(?:ffff:)?(?:${V6C}\\.){3}${V6C}`,
      `(?:0:){5}ffff:(?:${V6C}\\.){3}${V6C}$`,
    ].join('|') +
    ')',
  'iu',
);
const HOSTNAME = new RegExp(`^${LABEL}(?:\\.${LABEL})*$`, 'iu');

export function isIpAddressLike(name: string): boolean {
  return IPV4.test(name) || IPV6.test(name);
}

/** parse_address(allow_ranges=True): [host, port] or null when Ansible would raise. */
export function parseAddress(address: string): [string, number | null] | null {
  let port: number | null = null;
  for (const re of [BRACKETED_HOSTPORT, HOSTPORT]) {
    const m = re.exec(address);
    if (m) {
      address = m[1]!;
      port = Number(m[2]);
    }
  }
  if (IPV4.test(address) || IPV6.test(address) || HOSTNAME.test(address)) return [address, port];
  return null;
}

/** BaseInventoryPlugin._expand_hostpattern: an unparseable pattern is kept whole, without a port. */
export function expandHostPattern(pattern: string): { hostnames: string[]; port: number | null } {
  const parsed = parseAddress(pattern);
  const [host, port] = parsed ?? [pattern, null];
  return { hostnames: detectRange(host) ? expandHostnameRange(host) : [host], port };
}
