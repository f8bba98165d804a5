import type { CpuFrequency, CpuThrottle, RpiThrottled } from '../domain/index.js';
import { ParseError } from './errors.js';
import { compareNatural, firstLine } from './fields.js';

/**
 * CPU clocks and throttling from sysfs, like node_exporter's cpufreq and thermal_throttle
 * collectors: `/sys/devices/system/cpu/cpuN/cpufreq/scaling_{cur,min,max}_freq` (kHz → Hz),
 * `cpuN/thermal_throttle/{core,package}_throttle_count` with `cpuN/topology/{physical_package_id,core_id}`;
 * and the Raspberry Pi firmware's throttle word, from sysfs `soc:firmware/get_throttled` or
 * `vcgencmd get_throttled`. Pure: no I/O. A bad file is skipped with a message.
 */

const CPU_FILE = /^\/sys\/devices\/system\/cpu\/cpu([0-9]+)\/(cpufreq\/scaling_(cur|min|max)_freq|thermal_throttle\/(core|package)_throttle_count)$/;
const RPI_SYSFS = /^\/sys\/devices\/platform\/[^/]+\/[^/]*firmware\/get_throttled$/;

export interface ClocksResult {
  frequencies: CpuFrequency[];
  throttles: CpuThrottle[];
  errors: string[];
}

export function parseCpuClocks(files: ReadonlyMap<string, string>): ClocksResult {
  const freq = new Map<string, CpuFrequency>();
  const thr = new Map<string, CpuThrottle>();
  const errors: string[] = [];
  for (const [path, content] of files) {
    const m = CPU_FILE.exec(path);
    if (!m) continue;
    const cpu = m[1]!;
    const line = content.split('\n')[0]!.trim();
    if (line === '') continue;
    if (!/^[0-9]+$/.test(line)) {
      // A CPU whose driver has no current frequency prints `<unknown>`: no data, said once.
      errors.push(new ParseError(path, m[3] ? 'not a frequency in kHz' : 'not a throttle count', { text: line }).message);
      continue;
    }
    const n = Number(line);
    if (m[3]) {
      const f = freq.get(cpu) ?? { cpu };
      f[m[3] === 'cur' ? 'curHertz' : m[3] === 'min' ? 'minHertz' : 'maxHertz'] = n * 1000;
      freq.set(cpu, f);
    } else {
      let t = thr.get(cpu);
      if (!t) {
        t = { cpu };
        const pkg = firstLine(files, `/sys/devices/system/cpu/cpu${cpu}/topology/physical_package_id`);
        const core = firstLine(files, `/sys/devices/system/cpu/cpu${cpu}/topology/core_id`);
        if (pkg !== undefined) t.package = pkg;
        if (core !== undefined) t.core = core;
        thr.set(cpu, t);
      }
      if (m[4] === 'core') t.coreThrottles = n;
      else t.packageThrottles = n;
    }
  }
  const byCpu = (a: { cpu: string }, b: { cpu: string }) => compareNatural(a.cpu, b.cpu);
  return { frequencies: [...freq.values()].sort(byCpu), throttles: [...thr.values()].sort(byCpu), errors };
}

/**
 * The firmware's throttle word: sysfs prints it in hex without `0x` (`50005`), vcgencmd as
 * `throttled=0x50005`. Throws ParseError on anything else.
 */
export function parseGetThrottled(text: string, source: RpiThrottled['source'], file: string): RpiThrottled {
  const line = text.split('\n')[0]!.trim();
  const m = /^(?:throttled=)?(?:0x)?([0-9a-fA-F]{1,8})$/.exec(line);
  if (!m) throw new ParseError(file, 'not a get_throttled word (hex)', { text: line });
  return { flags: parseInt(m[1]!, 16), source };
}

/** The throttle word from the probe's files: sysfs first, then the vcgencmd section; undefined when neither is there. */
export function rpiThrottledFrom(files: ReadonlyMap<string, string>, vcgencmdSection: string): { value?: RpiThrottled; error?: string } {
  for (const [path, content] of files) {
    if (!RPI_SYSFS.test(path) || content.trim() === '') continue;
    try {
      return { value: parseGetThrottled(content, 'sysfs', path) };
    } catch (e) {
      return { error: (e as Error).message };
    }
  }
  const v = files.get(vcgencmdSection);
  if (v === undefined || v.trim() === '') return {};
  try {
    return { value: parseGetThrottled(v, 'vcgencmd', vcgencmdSection) };
  } catch (e) {
    return { error: (e as Error).message };
  }
}
