import type { CpuSample } from '../../domain/index.js';
import { cpuUsage, parseLoadavg, parseProcStat } from '../../parse/index.js';
import { requireFile, type KindCollector } from './kind.js';

/** CPU usage over the interval since the previous collection (never since boot), and load averages. */
export const cpu: KindCollector = {
  kind: 'cpu',
  collect({ files, prev }) {
    const stat = parseProcStat(requireFile(files, '/proc/stat'));
    const loadText = files.get('/proc/loadavg');
    const load = loadText ? parseLoadavg(loadText) : undefined;
    const sample: CpuSample = { ...stat, ...load };
    const { usage, resets } = cpuUsage(prev?.sample as CpuSample | undefined, sample);
    return {
      readings: { cpu: usage, load },
      rows: usage.length + (load ? 1 : 0),
      // Load averages are gauges: only the tick counters are needed next time.
      counters: stat,
      notes: resets.map((c) => `cpu ${c}: counters reset (reboot or hotplug), no usage this round`),
    };
  },
};
