/**
 * A node's latest readings as table cells (`edgefleet run`, `edgefleet nodes`): a value the
 * node's newest round did not get (unreachable, or that kind rejected) is marked stale with its
 * age — `71.2 °C (stale, 3 min)` — never shown as if current; a node without temperature sensors
 * says "no sensors" instead of "-". GPU: the busiest GPU's load, and the NVIDIA GPUs' draw
 * (`45.0% 70.1 W`); POWER: the node's total (INA3221 rails, RAPL).
 */
import { staleSeconds, type LatestReadings } from '../shared/store/index.js';
import { bytes, duration, fmt, type Cell } from './table.js';

type Kind = keyof LatestReadings['readUnixSeconds'];

export const READING_HEADERS = { temperature: 'TEMP', cpu: 'CPU', load: 'LOAD1', memory: 'MEM', storage: 'DISK', rx: 'RX', tx: 'TX', gpu: 'GPU', power: 'POWER' } as const;
export type ReadingColumn = keyof typeof READING_HEADERS;

export function readingCells(r: LatestReadings | null | undefined, columns: readonly ReadingColumn[], nowUnixSeconds: number): Cell[] {
  const mark = (kind: Kind, text: string | null): Cell => {
    if (text === null || !r) return text;
    const age = staleSeconds(r, kind, nowUnixSeconds);
    return age === null ? text : `${text} (stale, ${duration(age)})`;
  };
  return columns.map((c) => {
    if (!r) return null;
    switch (c) {
      case 'temperature':
        return r.noTemperatureSensors ? 'no sensors' : mark('temperature', fmt(r.maxCelsius, 1, ' °C'));
      case 'cpu':
        return mark('cpu', fmt(r.cpuUsagePercent, 1, '%'));
      case 'load':
        return mark('load', fmt(r.load1, 2));
      case 'memory':
        return mark('memory', fmt(r.memoryUsedPercent, 1, '%'));
      case 'storage':
        return mark('storage', fmt(r.fullestDiskPercent, 1, '%'));
      case 'rx':
        return mark('network', bytes(r.rxBytesPerSecond, '/s'));
      case 'tx':
        return mark('network', bytes(r.txBytesPerSecond, '/s'));
      // A node without a GPU or power rails shows "-": no data, not an error (no stale mark, as latest.ts).
      case 'gpu': {
        const load = fmt(r.gpuLoadPercent, 1, '%');
        const watts = fmt(r.gpuPowerWatts, 1, ' W');
        return load !== null && watts !== null ? `${load} ${watts}` : (load ?? watts);
      }
      case 'power':
        return fmt(r.powerWatts, 1, ' W');
    }
  });
}
