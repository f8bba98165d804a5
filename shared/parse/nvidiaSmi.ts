import type { NvidiaGpu } from '../domain/index.js';
import { ParseError } from './errors.js';
import { linesOf } from './fields.js';

/**
 * `nvidia-smi --query-gpu=NVIDIA_SMI_FIELDS --format=csv,noheader,nounits`: one line per GPU,
 * fields separated by ", ". Values the GPU does not report print as `[N/A]` or
 * `[Not Supported]` (undefined here, never 0). The probe prints the output (stdout and stderr)
 * under `==> nvidia-smi <==` and the exit status under `==> nvidia-smi exit=N <==`.
 * A GPU that fell off the bus makes nvidia-smi print an error line instead of (or beside) the
 * other GPUs' lines and exit non-zero: the good lines are kept, the error is reported.
 */

export const NVIDIA_SMI_FIELDS = [
  'index', 'uuid', 'name', 'utilization.gpu', 'utilization.memory', 'memory.used', 'memory.total',
  'temperature.gpu', 'power.draw', 'power.limit', 'clocks.sm', 'clocks.mem', 'clocks_throttle_reasons.active',
] as const;

export const NVIDIA_SMI_SECTION = 'nvidia-smi';
/** Header of the line the probe prints after nvidia-smi: `==> nvidia-smi exit=STATUS <==`. */
export const NVIDIA_SMI_EXIT = /^nvidia-smi exit=(\d{1,3})$/;

const MIB = 1024 * 1024;
const NUMBER = /^[0-9]+(?:\.[0-9]+)?$/;
const ABSENT = /^\[?(N\/A|Not Supported|Unknown Error|Insufficient Permissions)\]?$/i;

export interface NvidiaSmiResult {
  gpus: NvidiaGpu[];
  /** nvidia-smi's own error lines (a GPU lost, the driver unreachable), in its words. */
  errors: string[];
}

/** Parse nvidia-smi's CSV. Lines that are not a GPU's go to `errors`; a GPU line with a bad number throws ParseError. */
export function parseNvidiaSmi(text: string): NvidiaSmiResult {
  const result: NvidiaSmiResult = { gpus: [], errors: [] };
  const fixedAfterName = NVIDIA_SMI_FIELDS.length - 3;
  linesOf(text).forEach((raw, i) => {
    const line = raw.trimEnd();
    if (line === '') return;
    const f = line.split(', ');
    // index, uuid, then the name (which could hold ", "), then the 10 numeric fields.
    if (f.length < NVIDIA_SMI_FIELDS.length || !/^[0-9]+$/.test(f[0]!) || !/^(GPU|MIG)-/.test(f[1]!)) {
      result.errors.push(line);
      return;
    }
    const tail = f.slice(f.length - fixedAfterName);
    const name = f.slice(2, f.length - fixedAfterName).join(', ');
    const at = (j: number) => NVIDIA_SMI_FIELDS[3 + j]!;
    const num = (j: number): number | undefined => {
      const v = tail[j]!.trim();
      if (ABSENT.test(v)) return undefined;
      if (!NUMBER.test(v)) throw new ParseError(NVIDIA_SMI_SECTION, `not a number (${at(j)} of GPU ${f[0]})`, { line: i + 1, text: v });
      return Number(v);
    };
    const gpu: NvidiaGpu = { index: Number(f[0]), uuid: f[1]!, name };
    const set = <K extends keyof NvidiaGpu>(key: K, v: NvidiaGpu[K] | undefined) => {
      if (v !== undefined) gpu[key] = v;
    };
    set('utilizationGpuPercent', num(0));
    set('utilizationMemoryPercent', num(1));
    const used = num(2);
    const total = num(3);
    set('memoryUsedBytes', used === undefined ? undefined : used * MIB);
    set('memoryTotalBytes', total === undefined ? undefined : total * MIB);
    set('temperatureCelsius', num(4));
    set('powerDrawWatts', num(5));
    set('powerLimitWatts', num(6));
    set('smClockMhz', num(7));
    set('memClockMhz', num(8));
    const reasons = tail[9]!.trim();
    if (!ABSENT.test(reasons)) {
      if (!/^0x[0-9a-fA-F]{1,16}$/.test(reasons)) throw new ParseError(NVIDIA_SMI_SECTION, `not a hex bitmask (clocks_throttle_reasons.active of GPU ${f[0]})`, { line: i + 1, text: reasons });
      const n = Number(BigInt(reasons));
      if (!Number.isSafeInteger(n)) throw new ParseError(NVIDIA_SMI_SECTION, `bitmask too large (clocks_throttle_reasons.active of GPU ${f[0]})`, { line: i + 1, text: reasons });
      gpu.throttleReasons = n;
    }
    result.gpus.push(gpu);
  });
  return result;
}
