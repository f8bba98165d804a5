import { ParseFailure } from './errors.js';

// Mirrors detect_range / expand_hostname_range of ansible.plugins.inventory.
const ASCII_LETTERS = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ';

export function detectRange(pattern: string): boolean {
  return pattern.includes('[');
}

/** Python int(): optional sign, digits with single underscores, surrounding whitespace. */
export function pyInt(text: string): number {
  const m = /^\s*([+-]?)(\d+(?:_\d+)*)\s*$/.exec(text);
  if (!m) throw new ParseFailure(`invalid literal for int() with base 10: '${text}'`);
  const n = Number(m[2]!.replace(/_/g, ''));
  return m[1] === '-' ? -n : n;
}

/**
 * Ansible's own words (Python's, for a missing "]" or a bad number) kept verbatim, after what is
 * wrong with the pattern and how to write it.
 */
function explained(pattern: string, message: string): string {
  const unpack = /values to unpack \(expected 3, got (\d+)\)/.exec(message);
  if (unpack && Number(unpack[1]) < 3) return `host pattern "${pattern}" opens a range with "[" but has no closing "]"; write a range as name[01:04] (Ansible: ${message})`;
  if (unpack) return `host pattern "${pattern}" has a "|" or more brackets than one range takes; write a range as name[01:04] (Ansible: ${message})`;
  const int = /invalid literal for int\(\) with base 10: '(.*)'/.exec(message);
  if (int) return `host pattern "${pattern}": "${int[1]}" is not a number; a range is [01:04] (numbers) or [a:f] (single letters) (Ansible: ${message})`;
  if (/equal-length/.test(message)) return `${message}: in "${pattern}" the zero-padded start sets the width, so pad the end alike or drop the zero (jetson[001:100] or jetson[1:100])`;
  return `host pattern "${pattern}": ${message}`;
}

/** Expands every [a:b(:step)] in a host pattern; several ranges make a cartesian product, leftmost slowest. */
export function expandHostnameRange(line: string): string[] {
  try {
    return expand(line);
  } catch (e) {
    if (e instanceof ParseFailure && !e.message.includes('host pattern')) throw new ParseFailure(explained(line, e.message));
    throw e;
  }
}

function expand(line: string): string[] {
  if (!line) return [];
  // Ansible turns the first '[' and ']' into '|' and splits, so exactly three parts are required.
  const parts = line.replace('[', '|').replace(']', '|').split('|');
  if (parts.length !== 3) {
    throw new ParseFailure(`${parts.length > 3 ? 'too many' : 'not enough'} values to unpack (expected 3, got ${parts.length})`);
  }
  const [head, nrange, tail] = parts as [string, string, string];
  const bounds = nrange.split(':');
  if (bounds.length !== 2 && bounds.length !== 3) throw new ParseFailure('host range must be begin:end or begin:end:step');
  let beg = bounds[0]!;
  const end = bounds[1]!;
  const step = bounds.length === 3 ? pyInt(bounds[2]!) : 1;
  if (!beg) beg = '0';
  if (!end) throw new ParseFailure('host range must specify end value');

  let fill = (x: string | number): string => String(x);
  if (beg[0] === '0' && beg.length > 1) {
    // Padding width comes from the start value only when it has a leading zero.
    const width = beg.length;
    if (width !== end.length) throw new ParseFailure('host range must specify equal-length begin and end formats');
    fill = (x) => String(x).padStart(width, '0');
  }

  let seq: Array<string | number>;
  const iBeg = ASCII_LETTERS.indexOf(beg);
  const iEnd = ASCII_LETTERS.indexOf(end);
  if (iBeg >= 0 && iEnd >= 0) {
    if (iBeg > iEnd) throw new ParseFailure('host range must have begin <= end');
    if (step === 0) throw new ParseFailure('slice step cannot be zero');
    seq = [];
    if (step > 0) for (let k = iBeg; k <= iEnd; k += step) seq.push(ASCII_LETTERS[k]!);
  } else {
    // Not an alphabetic range: Python falls back to range(int(beg), int(end) + 1, step).
    const b = pyInt(beg);
    const e = pyInt(end) + 1;
    if (step === 0) throw new ParseFailure('range() arg 3 must not be zero');
    seq = [];
    if (step > 0) for (let k = b; k < e; k += step) seq.push(k);
    else for (let k = b; k > e; k += step) seq.push(k);
  }

  const hosts: string[] = [];
  for (const item of seq) {
    const name = head + fill(item) + tail;
    if (detectRange(name)) hosts.push(...expand(name));
    else hosts.push(name);
  }
  return hosts;
}
