import { parseSince } from '../../shared/detect/since.js';
import { UsageError } from '../command.js';
import { localTime } from '../table.js';

/** `--since` (a duration back from now, unix seconds or an ISO time), or `fallback` without it. */
export function sinceOption(since: string | undefined, fallback: string, nowUnixSeconds: number): number {
  try {
    return parseSince(since ?? fallback, nowUnixSeconds);
  } catch (e) {
    throw new UsageError(`--since: ${(e as Error).message}`);
  }
}

export const SINCE_HELP = 'a duration back from now (30m, 6h, 7d), unix seconds or an ISO time';

/** "in the last 24 h" for a duration, else "since <local time>": what an empty result says it looked at. */
export function sinceWords(since: string | undefined, fallback: string, fromUnixSeconds: number): string {
  const d = /^(\d+)\s*(s|m|h|d|w)$/.exec((since ?? fallback).trim());
  if (d) return `in the last ${Number(d[1])} ${{ s: 's', m: 'min', h: 'h', d: 'd', w: 'weeks' }[d[2] as 's' | 'm' | 'h' | 'd' | 'w']}`;
  return `since ${localTime(fromUnixSeconds)}`;
}
