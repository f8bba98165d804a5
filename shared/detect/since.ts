/**
 * `--since` / `?since=`: a duration back from now (`90s`, `15m`, `6h`, `7d`, `2w`), unix seconds,
 * or an ISO 8601 time (`2026-11-29T08:00:00Z`, `2026-11-29`). Returns unix seconds; throws with
 * the reason on anything else.
 */
export function parseSince(text: string, nowUnixSeconds: number): number {
  const t = text.trim();
  const d = /^(\d{1,9})\s*(s|m|h|d|w)$/.exec(t);
  if (d) return nowUnixSeconds - Number(d[1]) * { s: 1, m: 60, h: 3600, d: 86400, w: 604800 }[d[2] as 's' | 'm' | 'h' | 'd' | 'w'];
  if (/^\d{9,11}$/.test(t)) return Number(t);
  if (/^\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?)?$/.test(t)) {
    const ms = Date.parse(t.length === 10 ? `${t}T00:00:00Z` : t.replace(' ', 'T'));
    if (Number.isFinite(ms)) return Math.floor(ms / 1000);
  }
  throw new Error(`${JSON.stringify(text)} is not a duration (30m, 6h, 7d), unix seconds or an ISO time`);
}
