import { parseSince } from '../../shared/detect/since.js';
import { UsageError } from '../command.js';

/** `--since` (a duration back from now, unix seconds or an ISO time), or `fallback` without it. */
export function sinceOption(since: string | undefined, fallback: string, nowUnixSeconds: number): number {
  try {
    return parseSince(since ?? fallback, nowUnixSeconds);
  } catch (e) {
    throw new UsageError(`--since: ${(e as Error).message}`);
  }
}

export const SINCE_HELP = 'a duration back from now (30m, 6h, 7d), unix seconds or an ISO time';
