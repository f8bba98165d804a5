import { readdirSync, readFileSync } from 'node:fs';

/**
 * PIDs of live processes whose command line contains `marker` (a unique temp path the test
 * passed). The match is on the raw command line, arguments NUL-separated, so a marker can pin
 * whole arguments: `sleep\0${tag}\0` is that sleep and no longer one.
 */
export function processesWith(marker: string): { pid: number; cmd: string }[] {
  const out: { pid: number; cmd: string }[] = [];
  for (const e of readdirSync('/proc')) {
    if (!/^\d+$/.test(e) || Number(e) === process.pid) continue;
    try {
      const raw = readFileSync(`/proc/${e}/cmdline`, 'utf8');
      // A zombie has an empty command line: it is gone, only not yet reaped.
      if (raw.includes(marker)) out.push({ pid: Number(e), cmd: raw.replace(/\0/g, ' ').trim() });
    } catch {
      // exited meanwhile
    }
  }
  return out;
}

/** Waits until no process carries `marker`, for at most `ms`; returns what is left. */
export async function goneWithin(marker: string, ms: number): Promise<{ pid: number; cmd: string }[]> {
  const deadline = Date.now() + ms;
  for (;;) {
    const left = processesWith(marker);
    if (left.length === 0 || Date.now() > deadline) return left;
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** SIGKILL what a failed test left (by PID, never by name). */
export function killAll(left: { pid: number }[]): void {
  for (const p of left) {
    try {
      process.kill(p.pid, 'SIGKILL');
    } catch {
      // gone
    }
  }
}

/** Polls `url` until it answers 200, for at most `ms`. */
export async function answers(url: string, ms: number): Promise<boolean> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    try {
      if ((await fetch(url, { signal: AbortSignal.timeout(1000) })).ok) return true;
    } catch {
      // not up yet
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  return false;
}
