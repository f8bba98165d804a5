import { readdirSync, readFileSync } from 'node:fs';

/** PIDs of live processes whose command line contains `marker` (a unique temp path the test passed). */
export function processesWith(marker: string): { pid: number; cmd: string }[] {
  const out: { pid: number; cmd: string }[] = [];
  for (const e of readdirSync('/proc')) {
    if (!/^\d+$/.test(e) || Number(e) === process.pid) continue;
    try {
      const cmd = readFileSync(`/proc/${e}/cmdline`, 'utf8').replace(/\0/g, ' ').trim();
      // A zombie has an empty command line: it is gone, only not yet reaped.
      if (cmd.includes(marker)) out.push({ pid: Number(e), cmd });
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
