import type { CpuTimes } from '../domain/index.js';
import { ParseError } from './errors.js';
import { linesOf, unsignedInt, wordsOf } from './fields.js';

/**
 * /proc/stat: per-CPU time counters and the boot time.
 *
 * `cpu  user nice system idle iowait irq softirq steal guest guest_nice` in USER_HZ ticks.
 * Kernels before 2.6.11 print fewer columns (4 on 2.4: user nice system idle); the columns
 * they lack are 0 here, as in prometheus/procfs, because CpuTimes has no optional counters.
 */

const FILE = '/proc/stat';

/** Ticks per second of /proc/stat (USER_HZ). 100 on every Linux architecture the fleet runs. */
export const USER_HZ = 100;

/** What parseProcStat returns: the `cpu`/`cpuN` lines and `btime`. */
export interface ProcStat {
  /** `btime`, unix seconds; undefined when the line is missing. */
  bootTimeUnixSeconds?: number;
  /** `all` first (when present), then the cores in file order. */
  cpus: CpuTimes[];
}

/** The modes that add up to a cpu's time, in /proc/stat's column order. */
export const CPU_MODES = [
  'userSeconds',
  'niceSeconds',
  'systemSeconds',
  'idleSeconds',
  'iowaitSeconds',
  'irqSeconds',
  'softirqSeconds',
  'stealSeconds',
] as const;
/** Guest and guest_nice follow; the kernel already counts them inside user and nice. */
const CPU_FIELDS = [...CPU_MODES, 'guestSeconds', 'guestNiceSeconds'] as const;
const CPU_MIN_COLUMNS = 4;

/** A /proc/stat line: a lower-case key (`cpu3`, `intr`, `procs_running`) then unsigned integers. */
const KEY = /^[a-z_]+[0-9]*$/;
/** A valid line that is neither `cpu…` nor `btime`: only checked. */
const UNUSED = /^[ \t]*(?!cpu[0-9]*[ \t]|btime[ \t])[a-z_]+[0-9]*(?:[ \t]+[0-9]{1,15})*[ \t]*$/;

/**
 * Parse /proc/stat. Every line must be a key followed by unsigned integers, and the aggregate
 * `cpu` line must be there: anything else is not /proc/stat and throws ParseError.
 */
export function parseProcStat(text: string): ProcStat {
  const cpus: CpuTimes[] = [];
  const seen = new Set<string>();
  let bootTimeUnixSeconds: number | undefined;
  const lines = linesOf(text);
  lines.forEach((line, i) => {
    const lineNo = i + 1;
    // `intr` and `softirq` hold a counter per interrupt (hundreds on a Jetson) that nothing here
    // uses: checked whole by one pattern (under 16 digits is always exact), not value by value.
    // One that fails it goes the slow way below, for the error that names its column.
    if (UNUSED.test(line)) return;
    const [key, ...values] = wordsOf(line);
    if (key === undefined || !KEY.test(key)) {
      throw new ParseError(FILE, 'not a /proc/stat line', { line: lineNo, text: line });
    }
    const nums = values.map((v, j) => unsignedInt(v, { file: FILE, line: lineNo, field: `${key} column ${j + 1}` }));
    const cpuMatch = /^cpu([0-9]*)$/.exec(key);
    if (cpuMatch) {
      const cpu = cpuMatch[1] === '' ? 'all' : String(Number(cpuMatch[1]));
      if (seen.has(cpu)) throw new ParseError(FILE, `cpu ${cpu} listed twice`, { line: lineNo, text: line });
      seen.add(cpu);
      if (nums.length < CPU_MIN_COLUMNS || nums.length > CPU_FIELDS.length) {
        throw new ParseError(FILE, `${key} has ${nums.length} counters, expected ${CPU_MIN_COLUMNS} to ${CPU_FIELDS.length}`, {
          line: lineNo,
          text: line,
        });
      }
      const times = { cpu } as CpuTimes;
      CPU_FIELDS.forEach((field, j) => {
        times[field] = (nums[j] ?? 0) / USER_HZ;
      });
      cpus.push(times);
    } else if (key === 'btime') {
      const [btime] = nums;
      if (nums.length !== 1 || btime === undefined) {
        throw new ParseError(FILE, 'btime must have exactly one value', { line: lineNo, text: line });
      }
      bootTimeUnixSeconds = btime;
    }
  });
  if (!seen.has('all')) {
    throw new ParseError(FILE, 'no aggregate "cpu" line: not /proc/stat', { text: lines[0] ?? text });
  }
  return bootTimeUnixSeconds === undefined ? { cpus } : { bootTimeUnixSeconds, cpus };
}
