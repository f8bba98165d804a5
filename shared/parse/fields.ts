import { ParseError } from './errors.js';

/**
 * Small helpers shared by the parsers: split a file into lines and read numbers strictly.
 * Number(" 12 ") and parseInt("12abc") are too forgiving for data we store, so every field
 * is checked against a pattern first.
 */

/** Lines of a kernel file, without the final newline (a stray `\r` then fails the field patterns). */
export function linesOf(text: string): string[] {
  const body = text.endsWith('\n') ? text.slice(0, -1) : text;
  return body === '' ? [] : body.split('\n');
}

/** Where a field sits, for the error message. */
export interface FieldAt {
  file: string;
  line?: number;
  /** What the field is (`btime`, `cpu3 user`, `MemTotal`). */
  field: string;
}

const UNSIGNED = /^[0-9]+$/;
const SIGNED = /^-?[0-9]+$/;
const DECIMAL = /^[0-9]+(?:\.[0-9]+)?$/;

function fail(at: FieldAt, problem: string, text: string): never {
  const opts = at.line === undefined ? { text } : { line: at.line, text };
  throw new ParseError(at.file, `${problem} (${at.field})`, opts);
}

/** A non-negative integer that fits a double exactly (kernel counters are u64; beyond 2^53 we refuse). */
export function unsignedInt(text: string, at: FieldAt): number {
  if (!UNSIGNED.test(text)) fail(at, 'not an unsigned integer', text);
  const n = Number(text);
  if (!Number.isSafeInteger(n)) fail(at, 'integer too large to hold exactly', text);
  return n;
}

/** A signed integer (millidegree temperatures can be negative). */
export function signedInt(text: string, at: FieldAt): number {
  if (!SIGNED.test(text)) fail(at, 'not an integer', text);
  const n = Number(text);
  if (!Number.isSafeInteger(n)) fail(at, 'integer too large to hold exactly', text);
  return n;
}

/** A non-negative decimal like `0.21` (no sign, no exponent, no `nan`/`inf`). */
export function unsignedDecimal(text: string, at: FieldAt): number {
  if (!DECIMAL.test(text)) fail(at, 'not a non-negative decimal number', text);
  const n = Number(text);
  if (!Number.isFinite(n)) fail(at, 'not a finite number', text);
  return n;
}

/** Whitespace-separated words of a line (kernel files pad with spaces, never tabs, but accept both). */
export function wordsOf(line: string): string[] {
  const trimmed = line.trim();
  return trimmed === '' ? [] : trimmed.split(/[ \t]+/);
}

/** Natural order: `thermal_zone2` before `thermal_zone10`, `hwmon1/temp2` before `hwmon1/temp10`. */
export function compareNatural(a: string, b: string): number {
  const pa = a.match(/\d+|\D+/g) ?? [];
  const pb = b.match(/\d+|\D+/g) ?? [];
  const n = Math.min(pa.length, pb.length);
  for (let i = 0; i < n; i++) {
    const x = pa[i]!;
    const y = pb[i]!;
    if (x === y) continue;
    const dx = /^\d/.test(x);
    const dy = /^\d/.test(y);
    if (dx && dy) {
      const d = Number(x) - Number(y);
      if (d !== 0) return d;
      return x.length - y.length;
    }
    return x < y ? -1 : 1;
  }
  return pa.length - pb.length;
}

/** A one-value sysfs file's first line, trimmed; absent or empty is undefined. */
export function firstLine(files: ReadonlyMap<string, string>, path: string): string | undefined {
  const v = files.get(path);
  if (v === undefined) return undefined;
  const line = v.split('\n')[0]!.trim();
  return line === '' ? undefined : line;
}

/** A whole number from a one-value sysfs file; a bad one is an error message, absent is undefined. */
export function unsigned(files: ReadonlyMap<string, string>, path: string, what: string, errors: string[]): number | undefined {
  const line = firstLine(files, path);
  if (line === undefined) return undefined;
  if (!/^[0-9]+$/.test(line)) {
    errors.push(new ParseError(path, `not ${what}`, { text: line }).message);
    return undefined;
  }
  return Number(line);
}
