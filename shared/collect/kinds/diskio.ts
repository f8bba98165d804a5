import type { DiskIoRates, DiskStats } from '../../domain/index.js';
import { DEFAULT_EXCLUDE_DISK_DEVICES, diskRates, parseDiskstats } from '../../parse/index.js';
import { parseUptime } from '../../parse/procUptime.js';
import { intervalSeconds, type KindCollector } from './kind.js';

interface DiskioCounters {
  uptimeSeconds?: number;
  devices: DiskStats[];
}

/**
 * /proc/diskstats per whole disk (partitions, loop and RAM devices left out, like
 * node_exporter), raw counters and bytes/s, IOPS and utilization since the previous round.
 * A node without the file (not Linux) has no data, which is not a failure.
 */
export const diskio: KindCollector = {
  kind: 'diskio',
  collect({ files, prev, nowMs, filters }) {
    const text = files.get('/proc/diskstats');
    if (text === undefined || text === '') return { readings: {}, rows: 0, notes: [] };
    const exclude = filters.diskExcludeDevices ?? DEFAULT_EXCLUDE_DISK_DEVICES;
    const devices = parseDiskstats(text).filter((d) => !exclude.test(d.device));
    const uptimeText = files.get('/proc/uptime');
    const cur: DiskioCounters = { uptimeSeconds: uptimeText ? parseUptime(uptimeText) : undefined, devices };
    const before = prev?.sample as DiskioCounters | undefined;
    const notes: string[] = [];
    const rates = new Map<string, DiskIoRates>();
    if (before && prev) {
      const seconds = intervalSeconds({ timeMs: prev.timeMs, uptimeSeconds: before.uptimeSeconds }, { nowMs, uptimeSeconds: cur.uptimeSeconds });
      const result = diskRates(before.devices, devices, seconds);
      for (const r of result.rates) rates.set(r.device, r);
      for (const d of result.resets) notes.push(`disk ${d}: counters reset, no rate this round`);
    }
    return { readings: { diskio: { counters: devices, rates } }, rows: devices.length, counters: cur, notes };
  },
};
