export type Cell = string | number | null | undefined;

/** A plain text table: a header row, columns padded to their widest cell, numbers right-aligned. */
export function table(headers: string[], rows: Cell[][]): string {
  const cells = rows.map((r) => r.map((c) => (c === null || c === undefined ? '-' : String(c))));
  const numeric = headers.map((_, i) => cells.length > 0 && cells.every((r) => /^-?[\d.]+( ?[a-zA-Z/%°]+)?$|^-$/.test(r[i] ?? '-')));
  const widths = headers.map((h, i) => Math.max(h.length, ...cells.map((r) => [...(r[i] ?? '')].length)));
  const line = (r: string[]) =>
    r
      .map((c, i) => (numeric[i] ? c.padStart(widths[i]!) : c.padEnd(widths[i]!)))
      .join('  ')
      .trimEnd();
  return [line(headers), ...cells.map(line)].join('\n');
}

/**
 * A command's two outputs on stdout: with `--json`, `json` indented (for machines); otherwise a
 * table of `rows()` (for people; built only then).
 */
export function writeJsonOrTable(asJson: boolean, json: unknown, headers: string[], rows: () => Cell[][]): void {
  process.stdout.write((asJson ? JSON.stringify(json, null, 2) : table(headers, rows())) + '\n');
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

export function ago(unixSeconds: number | null, now = Date.now() / 1000): string | null {
  if (unixSeconds === null) return null;
  const s = Math.max(0, Math.round(now - unixSeconds));
  if (s < 120) return `${s}s ago`;
  if (s < 7200) return `${Math.round(s / 60)}m ago`;
  if (s < 172800) return `${Math.round(s / 3600)}h ago`;
  return `${Math.round(s / 86400)}d ago`;
}
