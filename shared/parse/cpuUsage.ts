import type { CpuSample, CpuTimes, CpuUsage } from '../domain/index.js';
import { CPU_MODES } from './procStat.js';

/**
 * CPU usage from two /proc/stat samples, Telegraf-style: percentages of the time that passed
 * between them, never since boot. The first sample gives none.
 *
 * Counter trouble, cpu by cpu:
 * - boot time changed: the node rebooted, every counter restarted: all cpus are resets.
 * - a counter stepped back by more than JUMP_BACK_SECONDS: the cpu went offline and came
 *   back (hotplug) or the counters were reset: no usage for that cpu, listed in `resets`.
 * - a counter stepped back by less: kernel jitter (iowait is known to do it); its delta is
 *   clamped to 0, as node_exporter keeps the last value instead.
 * - a cpu only in the current sample (came online): no usage and no reset, like a first sample;
 *   a cpu only in the previous sample (went offline) is left out.
 */

/** Step back (seconds) beyond which a counter is taken as reset: node_exporter's jumpBackSeconds. */
export const JUMP_BACK_SECONDS = 3;

export interface CpuUsageResult {
  /** One entry per cpu present in both samples with sane counters, in the current sample's order. */
  usage: CpuUsage[];
  /** Cpus (`all`, `0`, ...) whose counters were reset between the samples: no usage for them. */
  resets: string[];
}

/** The modes that add up to a cpu's time. Guest and guest_nice are already in user and nice. */
const MODES = CPU_MODES;
type Mode = (typeof MODES)[number];

/**
 * Usage per cpu between `prev` and `cur` (`prev` undefined: first sample, no usage).
 * `intervalSeconds` is the time the counters say passed: the cpu's own total for a core,
 * and for `all` its total divided by the number of cores in the current sample.
 */
export function cpuUsage(prev: CpuSample | undefined, cur: CpuSample): CpuUsageResult {
  const usage: CpuUsage[] = [];
  const resets: string[] = [];
  if (prev === undefined) return { usage, resets };
  if (
    prev.bootTimeUnixSeconds !== undefined &&
    cur.bootTimeUnixSeconds !== undefined &&
    prev.bootTimeUnixSeconds !== cur.bootTimeUnixSeconds
  ) {
    return { usage, resets: cur.cpus.map((c) => c.cpu) };
  }
  const before = new Map(prev.cpus.map((c) => [c.cpu, c] as const));
  const cores = cur.cpus.filter((c) => c.cpu !== 'all').length;
  for (const now of cur.cpus) {
    const then = before.get(now.cpu);
    if (then === undefined) continue;
    const delta = deltas(then, now);
    if (delta === 'reset') {
      resets.push(now.cpu);
      continue;
    }
    const total = MODES.reduce((sum, m) => sum + delta[m], 0);
    if (!(total > 0)) continue; // no time passed (the same sample twice): nothing to say
    const pct = (m: Mode) => (delta[m] / total) * 100;
    const idlePercent = pct('idleSeconds');
    const iowaitPercent = pct('iowaitSeconds');
    usage.push({
      cpu: now.cpu,
      userPercent: pct('userSeconds'),
      nicePercent: pct('niceSeconds'),
      systemPercent: pct('systemSeconds'),
      iowaitPercent,
      irqPercent: pct('irqSeconds'),
      softirqPercent: pct('softirqSeconds'),
      stealPercent: pct('stealSeconds'),
      idlePercent,
      usagePercent: 100 - idlePercent - iowaitPercent,
      intervalSeconds: now.cpu === 'all' ? total / Math.max(cores, 1) : total,
    });
  }
  return { usage, resets };
}

function deltas(then: CpuTimes, now: CpuTimes): Record<Mode, number> | 'reset' {
  const d = {} as Record<Mode, number>;
  for (const m of MODES) {
    const step = now[m] - then[m];
    if (!Number.isFinite(step)) return 'reset';
    if (step < -JUMP_BACK_SECONDS) return 'reset';
    d[m] = Math.max(step, 0);
  }
  return d;
}
