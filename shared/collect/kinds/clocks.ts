import { parseCpuClocks, rpiThrottledFrom } from '../../parse/index.js';
import { VCGENCMD_SECTION } from '../probes.js';
import type { KindCollector } from './kind.js';

interface ClocksCounters {
  /** Core throttle counts per CPU, for the throttles new since the last round. */
  coreThrottles: Record<string, number>;
}

/** Per-CPU frequency, x86 throttle counters, the Pi's throttle flags; what a node lacks is no data, not a failure. */
export const clocks: KindCollector = {
  kind: 'clocks',
  collect({ files, prev }) {
    const { frequencies, throttles, errors } = parseCpuClocks(files);
    const notes = [...errors];
    const before = (prev?.sample as ClocksCounters | undefined)?.coreThrottles;
    const counts: Record<string, number> = {};
    for (const t of throttles) {
      if (t.coreThrottles === undefined) continue;
      counts[t.cpu] = t.coreThrottles;
      const p = before?.[t.cpu];
      if (p === undefined) continue;
      if (t.coreThrottles >= p) t.coreThrottlesNew = t.coreThrottles - p;
      else notes.push(`cpu${t.cpu}: throttle counter went back (reboot), none counted this round`);
    }
    const pi = rpiThrottledFrom(files, VCGENCMD_SECTION);
    if (pi.error) notes.push(pi.error);
    const rows = frequencies.length + throttles.length + (pi.value ? 1 : 0);
    if (rows === 0) return { readings: {}, rows: 0, notes };
    return {
      readings: { clocks: { frequencies, throttles, ...(pi.value ? { rpiThrottled: pi.value } : {}) } },
      rows,
      ...(Object.keys(counts).length ? { counters: { coreThrottles: counts } satisfies ClocksCounters } : {}),
      notes,
    };
  },
};
