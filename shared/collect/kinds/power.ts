import type { RaplCounter } from '../../domain/index.js';
import { parseIna3221, parseRapl, powerTotal, raplRails } from '../../parse/index.js';
import { parseUptime } from '../../parse/procUptime.js';
import { intervalSeconds, type KindCollector } from './kind.js';

interface PowerCounters {
  uptimeSeconds?: number;
  rapl: RaplCounter[];
}

/**
 * INA3221 rails as they read now; RAPL domains as watts between this round and the last (the
 * counters live in the store, like the network's). A node with neither has no data, not a failure.
 */
export const power: KindCollector = {
  kind: 'power',
  collect({ files, prev, nowMs }) {
    const ina = parseIna3221(files);
    const rapl = parseRapl(files);
    const notes = [...ina.errors, ...rapl.errors];
    const uptimeText = files.get('/proc/uptime');
    const cur: PowerCounters = { uptimeSeconds: uptimeText ? parseUptime(uptimeText) : undefined, rapl: rapl.counters };
    const before = prev?.sample as PowerCounters | undefined;
    const seconds = before && prev ? intervalSeconds({ timeMs: prev.timeMs, uptimeSeconds: before.uptimeSeconds }, { nowMs, uptimeSeconds: cur.uptimeSeconds }) : 0;
    const r = raplRails(before?.rapl, rapl.counters, seconds);
    for (const z of r.resets) notes.push(`RAPL ${z}: energy counter went back (reset), no watts this round`);
    for (const z of r.wraps) notes.push(`RAPL ${z}: energy counter wrapped at max_energy_range_uj`);
    const rails = [...ina.rails, ...r.rails];
    if (rails.length === 0) return { readings: {}, rows: 0, notes };
    return {
      readings: { power: { rails, ...powerTotal(rails) } },
      rows: rails.length,
      ...(rapl.counters.length ? { counters: cur } : {}),
      notes,
    };
  },
};
