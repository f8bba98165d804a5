/**
 * What the CLI prints for people: tables aligned by display width (cli/width.ts), one time
 * format, ages, and the `--json` twin of every table. The rule for times, in every command:
 * a moment in a table is local time with its zone (`2026-12-02 16:08:10 GMT+9`); how old a
 * reading is, where that matters, is an age beside it (`71.2 °C (stale, 3 min)`); `--json`
 * keeps each `…UnixSeconds` / `…UnixMs` number and adds the same moment as ISO 8601 UTC in
 * `…Utc` (`lastSeenUtc: "2026-12-02T07:08:10Z"`).
 */
import { displayWidth, padEndToWidth, padStartToWidth } from './width.js';

export type Cell = string | number | null | undefined;

/** Control characters (a newline or an escape in a node's error text) would break the row: shown as spaces. */
const cellText = (c: Cell) => (c === null || c === undefined ? '-' : String(c).replace(/[\p{Cc}\u2028\u2029]+/gu, ' ').trim());

/** A plain text table: a header row, columns padded to their widest cell (in columns), numbers right-aligned. */
export function table(headers: string[], rows: Cell[][]): string {
  const cells = rows.map((r) => headers.map((_, i) => cellText(r[i])));
  const numeric = headers.map((_, i) => cells.length > 0 && cells.every((r) => /^-?[\d.]+( ?[a-zA-Z/%°]+)?$|^-$/.test(r[i]!)));
  const widths = headers.map((h, i) => Math.max(displayWidth(h), ...cells.map((r) => displayWidth(r[i]!))));
  const line = (r: string[]) =>
    r
      .map((c, i) => (numeric[i] ? padStartToWidth(c, widths[i]!) : padEndToWidth(c, widths[i]!)))
      .join('  ')
      .trimEnd();
  return [line(headers), ...cells.map(line)].join('\n');
}

/**
 * A command's two outputs on stdout: with `--json`, `json` indented with ISO twins of its times
 * (for machines; an empty list stays `[]`); otherwise a table of `rows()` (for people; built
 * only then), or the `empty` sentence when there is no row.
 */
export function writeJsonOrTable(asJson: boolean, json: unknown, headers: string[], rows: () => Cell[][], empty?: string): void {
  if (asJson) return writeJson(json);
  const r = rows();
  process.stdout.write((r.length === 0 && empty !== undefined ? empty : table(headers, r)) + '\n');
}

export function writeJson(json: unknown): void {
  process.stdout.write(JSON.stringify(withUtcTimes(json), null, 2) + '\n');
}

/** Beside every `xUnixSeconds` / `xUnixMs` key (numbers, or an object of them), `xUtc` in ISO 8601 UTC. */
export function withUtcTimes(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(withUtcTimes);
  if (value === null || typeof value !== 'object' || value instanceof Date) return value;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) {
    out[k] = withUtcTimes(v);
    const m = /^(.+)Unix(Seconds|Ms)$/.exec(k);
    if (!m || `${m[1]}Utc` in value) continue;
    const scale = m[2] === 'Ms' ? 1 : 1000;
    const iso = (t: unknown) => (typeof t === 'number' && Number.isFinite(t) ? isoUtc(t * scale) : null);
    if (typeof v === 'number' || v === null) out[`${m[1]}Utc`] = iso(v);
    else if (typeof v === 'object' && !Array.isArray(v)) out[`${m[1]}Utc`] = Object.fromEntries(Object.entries(v as object).map(([kk, t]) => [kk, iso(t)]));
  }
  return out;
}

/** 2026-12-02T07:08:10Z (milliseconds only when there are some). */
export const isoUtc = (unixMs: number) => new Date(unixMs).toISOString().replace('.000Z', 'Z');

const zoneName = new Intl.DateTimeFormat('en-US', { timeZoneName: 'short' });
const two = (n: number) => String(n).padStart(2, '0');

/** A moment as tables show it: local time with the zone (`2026-12-02 16:08:10 GMT+9`, `… UTC`). */
export function localTime(unixSeconds: number | null | undefined): string | null {
  if (unixSeconds === null || unixSeconds === undefined) return null;
  const d = new Date(unixSeconds * 1000);
  const zone = zoneName.formatToParts(d).find((p) => p.type === 'timeZoneName')?.value ?? '';
  return `${d.getFullYear()}-${two(d.getMonth() + 1)}-${two(d.getDate())} ${two(d.getHours())}:${two(d.getMinutes())}:${two(d.getSeconds())} ${zone}`.trimEnd();
}

/** A length of time in words, rounded down: "42 s", "3 min", "5 h", "2 d". */
export function duration(seconds: number): string {
  const s = Math.max(0, Math.floor(seconds));
  if (s < 60) return `${s} s`;
  if (s < 3600) return `${Math.floor(s / 60)} min`;
  if (s < 172800) return `${Math.floor(s / 3600)} h`;
  return `${Math.floor(s / 86400)} d`;
}

export function fmt(n: number | null | undefined, digits = 1, unit = ''): string | null {
  return n === null || n === undefined ? null : `${n.toFixed(digits)}${unit}`;
}

/** 1536 → "1.5 KiB/s"-style, powers of 1024. */
export function bytes(n: number | null | undefined, suffix = ''): string | null {
  if (n === null || n === undefined) return null;
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let i = 0;
  while (Math.abs(n) >= 1024 && i < units.length - 1) {
    n /= 1024;
    i++;
  }
  return `${n.toFixed(i === 0 ? 0 : 1)} ${units[i]}${suffix}`;
}
