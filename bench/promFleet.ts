import type { CpuTimes } from '../shared/domain/index.js';
import type { CollectorRun, CounterState, NodeReadings } from '../shared/store/index.js';
import { nodeReadings, type Shape } from './fleetData.js';

/**
 * bench/fleetData.ts's rounds plus what a real round also stores and Prometheus reads: the raw
 * counters (CPU ticks as seconds, interface counters) and the collector runs.
 */
export function promRound(fleet: readonly { spec: { name: string }; shape: Shape }[], k: number, time: number): { readings: NodeReadings[]; counters: CounterState[]; runs: CollectorRun[] } {
  const readings: NodeReadings[] = [];
  const counters: CounterState[] = [];
  const runs: CollectorRun[] = [];
  fleet.forEach((f, i) => {
    const r = nodeReadings(f.spec.name, f.shape, i, k, time);
    readings.push(r);
    const timeMs = time * 1000 + 137;
    const cpus: CpuTimes[] = r.cpu!.map((c) => {
      const s = (pct: number) => Math.round((1000 + k * 10 * pct) * 100) / 10000;
      return {
        cpu: c.cpu,
        userSeconds: s(c.userPercent),
        niceSeconds: 0,
        systemSeconds: s(c.systemPercent),
        idleSeconds: s(c.idlePercent),
        iowaitSeconds: s(c.iowaitPercent),
        irqSeconds: s(c.irqPercent),
        softirqSeconds: s(c.softirqPercent),
        stealSeconds: 0,
        guestSeconds: 0,
        guestNiceSeconds: 0,
      };
    });
    counters.push({ node: f.spec.name, kind: 'cpu', timeMs, sample: { bootTimeUnixSeconds: 1_700_000_000, cpus } });
    counters.push({ node: f.spec.name, kind: 'network', timeMs, sample: { interfaces: r.network!.counters } });
    for (const kind of ['temperature', 'cpu', 'memory', 'storage', 'network'] as const) runs.push({ node: f.spec.name, kind, success: true, durationMs: 0.3, rows: 4 });
  });
  return { readings, counters, runs };
}
