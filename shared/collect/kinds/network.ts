import type { NetDevCounters, NetRates } from '../../domain/index.js';
import { netRates, parseNetClass, parseNetDev } from '../../parse/index.js';
import { parseUptime } from '../../parse/procUptime.js';
import { intervalSeconds, requireFile, type KindCollector } from './kind.js';

interface NetworkCounters {
  uptimeSeconds?: number;
  interfaces: NetDevCounters[];
}

/** Counters as the kernel keeps them, and bytes/s since the previous collection. */
export const network: KindCollector = {
  kind: 'network',
  collect({ files, prev, nowMs, filters }) {
    const exclude = filters.networkExcludeInterfaces;
    const interfaces = parseNetDev(requireFile(files, '/proc/net/dev')).filter((c) => !exclude?.test(c.iface));
    const uptimeText = files.get('/proc/uptime');
    const cur: NetworkCounters = { uptimeSeconds: uptimeText ? parseUptime(uptimeText) : undefined, interfaces };
    const before = prev?.sample as NetworkCounters | undefined;
    const notes: string[] = [];
    const rates = new Map<string, NetRates>();
    if (before && prev) {
      const seconds = intervalSeconds({ timeMs: prev.timeMs, uptimeSeconds: before.uptimeSeconds }, { nowMs, uptimeSeconds: cur.uptimeSeconds });
      const result = netRates(before.interfaces, interfaces, seconds);
      for (const r of result.rates) rates.set(r.iface, r);
      for (const i of result.resets) notes.push(`interface ${i}: counters reset, no rate this round`);
      for (const i of result.wraps) notes.push(`interface ${i}: 32-bit counter wrapped`);
    }
    // Link state where /sys has it (a fake root without sys/class/net: none).
    const links = parseNetClass(files);
    return { readings: { network: { counters: interfaces, rates, links } }, rows: interfaces.length, counters: cur, notes };
  },
};
