import type { MemorySample } from '../domain/index.js';
import { ParseError } from './errors.js';
import { linesOf, unsignedInt } from './fields.js';

/**
 * /proc/meminfo: `Key:   value kB` lines (a few, like HugePages_Total, carry no unit).
 * Sizes are converted from kB (KiB) to bytes. MemAvailable appeared in Linux 3.14: on older
 * kernels it is undefined and usedPercent falls back to (total − free − buffers − cached).
 */

const FILE = '/proc/meminfo';
const LINE = /^([A-Za-z0-9_()]+):[ \t]*([0-9]+)(?: kB)?$/;

/** Parse /proc/meminfo. A line of another shape, or no MemTotal/MemFree, throws ParseError. */
export function parseMeminfo(text: string): MemorySample {
  const kb = new Map<string, number>();
  const lines = linesOf(text);
  lines.forEach((line, i) => {
    const m = LINE.exec(line.trimEnd());
    if (!m) throw new ParseError(FILE, 'not a "Key: value kB" line', { line: i + 1, text: line });
    const key = m[1]!;
    if (kb.has(key)) throw new ParseError(FILE, `${key} listed twice`, { line: i + 1, text: line });
    kb.set(key, unsignedInt(m[2]!, { file: FILE, line: i + 1, field: key }));
  });
  const bytes = (key: string): number | undefined => {
    const v = kb.get(key);
    if (v === undefined) return undefined;
    const b = v * 1024;
    if (!Number.isSafeInteger(b)) throw new ParseError(FILE, `${key} too large`, { text: String(v) });
    return b;
  };
  const memTotalBytes = bytes('MemTotal');
  const memFreeBytes = bytes('MemFree');
  if (memTotalBytes === undefined || memFreeBytes === undefined) {
    throw new ParseError(FILE, 'no MemTotal or MemFree: not /proc/meminfo', { text: lines[0] ?? text });
  }
  if (memTotalBytes === 0) throw new ParseError(FILE, 'MemTotal is 0', { text: lines[0] ?? text });
  if (memFreeBytes > memTotalBytes) {
    throw new ParseError(FILE, 'MemFree larger than MemTotal', { text: `MemFree ${kb.get('MemFree')} > MemTotal ${kb.get('MemTotal')}` });
  }
  const memAvailableBytes = bytes('MemAvailable');
  const buffersBytes = bytes('Buffers');
  const cachedBytes = bytes('Cached');
  const usedBytes =
    memAvailableBytes !== undefined
      ? memTotalBytes - memAvailableBytes
      : memTotalBytes - memFreeBytes - (buffersBytes ?? 0) - (cachedBytes ?? 0);
  if (usedBytes < 0) {
    throw new ParseError(FILE, 'available memory larger than MemTotal', {
      text: lines.filter((l) => /^(MemTotal|MemFree|MemAvailable|Buffers|Cached):/.test(l)).join(' | '),
    });
  }
  const sample: MemorySample = {
    memTotalBytes,
    memFreeBytes,
    usedPercent: (usedBytes / memTotalBytes) * 100,
  };
  if (memAvailableBytes !== undefined) sample.memAvailableBytes = memAvailableBytes;
  if (buffersBytes !== undefined) sample.buffersBytes = buffersBytes;
  if (cachedBytes !== undefined) sample.cachedBytes = cachedBytes;
  const swapTotalBytes = bytes('SwapTotal');
  const swapFreeBytes = bytes('SwapFree');
  if (swapTotalBytes !== undefined) sample.swapTotalBytes = swapTotalBytes;
  if (swapFreeBytes !== undefined) sample.swapFreeBytes = swapFreeBytes;
  // Jetson (L4T) kernels: the GPU's share of the unified memory.
  const nvMapMemUsedBytes = bytes('NvMapMemUsed');
  if (nvMapMemUsedBytes !== undefined) sample.nvMapMemUsedBytes = nvMapMemUsedBytes;
  return sample;
}
