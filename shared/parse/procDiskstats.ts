import type { DiskIoRates, DiskStats } from '../domain/index.js';
import { ParseError } from './errors.js';
import { linesOf, unsignedInt, wordsOf } from './fields.js';
import { COUNTER_32_BIT } from './procNetDev.js';

/**
 * /proc/diskstats (Documentation/admin-guide/iostats.rst): `major minor name` then 11 counters
 * (Linux ≥ 4.18 adds 4 discard fields, ≥ 5.5 two flush fields; both are ignored here):
 * reads completed, reads merged, sectors read, ms reading, writes completed, writes merged,
 * sectors written, ms writing, I/Os in progress, ms doing I/O (io_ticks), weighted ms.
 * A sector here is always 512 bytes, whatever the device's own sector size.
 * Kernels before 2.6.25 printed partitions with 4 counters only: those lines are skipped.
 */

const FILE = '/proc/diskstats';
const SECTOR_BYTES = 512;

/**
 * Devices left out by default: node_exporter's `--collector.diskstats.device-exclude`
 * (`^(z?ram|loop|fd|(h|s|v|xv)d[a-z]|nvme\d+n\d+p)\d+$`: RAM disks, loop devices, floppies and
 * partitions of sd/hd/vd/xvd and NVMe disks), plus SD/eMMC partitions (`mmcblk0p2`), which
 * node_exporter keeps: on a Pi or a Jetson they would count the card's I/O twice.
 */
export const DEFAULT_EXCLUDE_DISK_DEVICES = /^(z?ram|loop|fd|(h|s|v|xv)d[a-z]|nvme\d+n\d+p|mmcblk\d+p)\d+$/;

/** Parse /proc/diskstats, keeping every device (the caller filters). Garbage throws ParseError. */
export function parseDiskstats(text: string): DiskStats[] {
  const seen = new Set<string>();
  const out: DiskStats[] = [];
  linesOf(text).forEach((line, i) => {
    const lineNo = i + 1;
    const w = wordsOf(line);
    if (w.length === 7) return; // an old kernel's partition line
    if (w.length < 14) throw new ParseError(FILE, `${w.length} fields, expected "major minor name" and at least 11 counters`, { line: lineNo, text: line });
    const device = w[2]!;
    const n = (j: number, field: string) => unsignedInt(w[j]!, { file: FILE, line: lineNo, field: `${device} ${field}` });
    n(0, 'major');
    n(1, 'minor');
    if (seen.has(device)) throw new ParseError(FILE, `device ${device} listed twice`, { line: lineNo, text: line });
    seen.add(device);
    out.push({
      device,
      readsCompleted: n(3, 'reads completed'),
      readBytes: n(5, 'sectors read') * SECTOR_BYTES,
      readTimeSeconds: n(6, 'ms reading') / 1000,
      writesCompleted: n(7, 'writes completed'),
      writtenBytes: n(9, 'sectors written') * SECTOR_BYTES,
      writeTimeSeconds: n(10, 'ms writing') / 1000,
      ioTimeSeconds: n(12, 'ms doing I/O') / 1000,
    });
  });
  return out;
}

export interface DiskRatesResult {
  rates: DiskIoRates[];
  /** Devices whose counters went back (re-attached, or a counter restarted): no rate this round. */
  resets: string[];
}

/**
 * Rates between two samples `intervalSeconds` apart. The counters are `unsigned long`: 32 bits
 * on a 32-bit kernel (Raspberry Pi OS armhf), so a step back from below 2^32 to a small value
 * is a wrap when the wrapped delta is under 2^31 (in the counter's own unit); any other step
 * back is a reset, and that device gets no rate this round. A new device has none either.
 */
export function diskRates(prev: readonly DiskStats[] | undefined, cur: readonly DiskStats[], intervalSeconds: number): DiskRatesResult {
  if (!(Number.isFinite(intervalSeconds) && intervalSeconds > 0)) {
    throw new RangeError(`diskRates: intervalSeconds must be a positive number, got ${String(intervalSeconds)}`);
  }
  const result: DiskRatesResult = { rates: [], resets: [] };
  if (prev === undefined) return result;
  const before = new Map(prev.map((d) => [d.device, d] as const));
  for (const now of cur) {
    const then = before.get(now.device);
    if (then === undefined) continue;
    // Bytes and seconds are wrapped in their raw units (sectors, ms).
    const deltas = [
      delta(then.readBytes / SECTOR_BYTES, now.readBytes / SECTOR_BYTES),
      delta(then.writtenBytes / SECTOR_BYTES, now.writtenBytes / SECTOR_BYTES),
      delta(then.readsCompleted, now.readsCompleted),
      delta(then.writesCompleted, now.writesCompleted),
      delta(Math.round(then.ioTimeSeconds * 1000), Math.round(now.ioTimeSeconds * 1000)),
    ];
    if (deltas.some((d) => d === undefined)) {
      result.resets.push(now.device);
      continue;
    }
    const [sectorsRead, sectorsWritten, reads, writes, ioMs] = deltas as number[];
    result.rates.push({
      device: now.device,
      readBytesPerSecond: (sectorsRead! * SECTOR_BYTES) / intervalSeconds,
      writtenBytesPerSecond: (sectorsWritten! * SECTOR_BYTES) / intervalSeconds,
      readsPerSecond: reads! / intervalSeconds,
      writesPerSecond: writes! / intervalSeconds,
      utilizationPercent: (ioMs! / 1000 / intervalSeconds) * 100,
      intervalSeconds,
    });
  }
  return result;
}

function delta(prev: number, cur: number): number | undefined {
  if (cur >= prev) return cur - prev;
  const wrapped = cur + COUNTER_32_BIT - prev;
  return prev < COUNTER_32_BIT && wrapped < COUNTER_32_BIT / 2 ? wrapped : undefined;
}
