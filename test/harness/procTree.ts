import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';

/** One row of /proc/PID/stat: the parent and the CPU clock ticks the process accounts for. */
export interface ProcStat {
  /** R, S, Z (exited, not yet reaped), ... */
  state: string;
  ppid: number;
  /** utime+stime+cutime+cstime: its own CPU and that of its reaped descendants. */
  ticks: number;
  /** cutime+cstime alone. */
  reapedTicks: number;
}

let clkTck: number | undefined;
/** Clock ticks per second, the unit of /proc/PID/stat times. */
export function ticksPerSecond(): number {
  clkTck ??= Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim());
  return clkTck;
}

export function readStat(pid: number | 'self'): ProcStat | undefined {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return undefined; // exited meanwhile
  }
  // comm (field 2) may hold spaces and parentheses: fields are counted after its last ')'.
  const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
  const f = fields.map(Number);
  const reapedTicks = f[13]! + f[14]!;
  return { state: fields[0]!, ppid: f[1]!, ticks: f[11]! + f[12]! + reapedTicks, reapedTicks };
}

/** Every live process, read once so that many trees can be walked from one snapshot. */
export function procTable(): Map<number, ProcStat> {
  const table = new Map<number, ProcStat>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const stat = readStat(Number(entry));
    if (stat) table.set(Number(entry), stat);
  }
  return table;
}

/** The pid and all its live descendants. */
export function processTree(pid: number, table = procTable()): number[] {
  const children = new Map<number, number[]>();
  for (const [p, s] of table) children.set(s.ppid, [...(children.get(s.ppid) ?? []), p]);
  const tree: number[] = [];
  for (const todo = table.has(pid) ? [pid] : []; todo.length; ) {
    const p = todo.pop()!;
    tree.push(p);
    todo.push(...(children.get(p) ?? []));
  }
  return tree;
}

/**
 * CPU ticks of a tree. No double counting: a process's cutime/cstime only hold descendants
 * that have exited and been reaped, which no longer appear in the table.
 */
export function treeTicks(pid: number, table = procTable()): number {
  return processTree(pid, table).reduce((sum, p) => sum + table.get(p)!.ticks, 0);
}

/**
 * SIGKILL a process and all its descendants, synchronously (for 'exit' handlers).
 *
 * Leaves go first so that each parent lives to reap them: an orphan would take its CPU out of
 * the tree's count, and go to a PID 1 that may reap it late (this machine's takes seconds). What is left after the timeout is frozen with SIGSTOP until no new process
 * shows up (sshd's per-connection children call setsid(), so a process-group kill would
 * miss them), then killed.
 */
export function killTree(pid: number, timeoutMs = 2000): void {
  for (const deadline = Date.now() + timeoutMs; Date.now() < deadline; sleepSync(5)) {
    const table = procTable();
    const tree = processTree(pid, table);
    if (tree.length <= 1) break;
    const parents = new Set(tree.map((p) => table.get(p)!.ppid));
    for (const p of tree) if (p !== pid && !parents.has(p) && table.get(p)!.state !== 'Z') signal(p, 'SIGKILL');
  }
  const stopped = new Set<number>();
  for (;;) {
    const fresh = processTree(pid).filter((p) => !stopped.has(p));
    if (fresh.length === 0) break;
    for (const p of fresh) {
      signal(p, 'SIGSTOP');
      stopped.add(p);
    }
  }
  for (const p of stopped) signal(p, 'SIGKILL');
}

function sleepSync(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

function signal(pid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(pid, sig);
  } catch {
    // already gone
  }
}
