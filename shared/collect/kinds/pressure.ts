import type { PressureSample } from '../../domain/index.js';
import { PRESSURE_RESOURCES, parsePressure, stallPercent } from '../../parse/index.js';
import { parseUptime } from '../../parse/procUptime.js';
import { intervalSeconds, type KindCollector } from './kind.js';

interface PressureCounters {
  uptimeSeconds?: number;
  /** Stalled seconds since boot per resource: `some` and `full`. */
  totals: Partial<Record<PressureSample['resource'], { some: number; full?: number }>>;
}

/**
 * Pressure stall information: /proc/pressure/{cpu,memory,io}, with the percent of the interval
 * stalled since the previous round from the `total` counters. A kernel without PSI (before 4.20,
 * or booted with psi=0) has no files: no data, not a failure.
 */
export const pressure: KindCollector = {
  kind: 'pressure',
  collect({ files, prev, nowMs }) {
    const samples: PressureSample[] = [];
    for (const resource of PRESSURE_RESOURCES) {
      const text = files.get(`/proc/pressure/${resource}`);
      if (text === undefined || text === '') continue;
      samples.push(parsePressure(resource, text));
    }
    if (samples.length === 0) return { readings: {}, rows: 0, notes: [] };
    const uptimeText = files.get('/proc/uptime');
    const cur: PressureCounters = { uptimeSeconds: uptimeText ? parseUptime(uptimeText) : undefined, totals: {} };
    for (const s of samples) cur.totals[s.resource] = { some: s.some.totalSeconds, ...(s.full ? { full: s.full.totalSeconds } : {}) };
    const before = prev?.sample as PressureCounters | undefined;
    if (before && prev) {
      const seconds = intervalSeconds({ timeMs: prev.timeMs, uptimeSeconds: before.uptimeSeconds }, { nowMs, uptimeSeconds: cur.uptimeSeconds });
      for (const s of samples) {
        const then = before.totals[s.resource];
        const some = stallPercent(then?.some, s.some.totalSeconds, seconds);
        const full = stallPercent(then?.full, s.full?.totalSeconds, seconds);
        if (some !== undefined) s.somePercent = some;
        if (full !== undefined) s.fullPercent = full;
      }
    }
    return { readings: { pressure: samples }, rows: samples.length, counters: cur, notes: [] };
  },
};
