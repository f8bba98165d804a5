import type { TegraGpuReading } from '../domain/index.js';
import { ParseError } from './errors.js';
import { compareNatural, firstLine, unsigned } from './fields.js';

/**
 * Jetson (Tegra) GPU from sysfs: every `/sys/class/devfreq/NAME/` whose device is the GPU, never
 * one hard-coded path (the name differs by board: `57000000.gpu` Nano, `17000000.gp10b` TX2,
 * `17000000.gv11b` Xavier, `17000000.ga10b` Orin). The GPU is known by its device tree node
 * (`device/of_node/name` `gpu` or a GPU core name, or `compatible` `nvidia,<core>`) as jetson-stats
 * does, else by its devfreq name. Its busy share is `device/load` (per mille; on L4T 32 also
 * `/sys/devices/gpu.0/load`). The EMC clock comes from the BPMP or clk debugfs (root only) or an
 * EMC devfreq device; the nvpmodel mode from `/var/lib/nvpmodel/status` named by
 * `/etc/nvpmodel.conf`. Pure: no I/O. A bad file is skipped with a message in `errors`.
 */

export interface TegraGpuResult {
  gpus: TegraGpuReading[];
  errors: string[];
}

/** Tegra GPU cores: Maxwell gm20b (Nano, TX1), Pascal gp10b (TX2), Volta gv11b (Xavier), Ampere ga10b (Orin), Blackwell gb10b (Thor). */
const GPU_CORE = /^(gpu|gm20b|gp10b|gv11b|ga10b|gb10b)$/;
const GPU_COMPATIBLE = /^nvidia,(?:tegra\d+-)?(?:gm20b|gp10b|gv11b|ga10b|gb10b|gpu)$/;
const GPU_NAME = /^gpu\.\d+$|\.(?:gpu|gm20b|gp10b|gv11b|ga10b|gb10b)$/;
const EMC = /emc|external-memory-controller/i;
const DEVFREQ = /^\/sys\/class\/devfreq\/([^/]+)\/cur_freq$/;

/** A device tree property file: strings separated (and ended) by NUL. */
function dtStrings(text: string | undefined): string[] {
  return text === undefined ? [] : text.split(/[\0\n]/).map((s) => s.trim()).filter(Boolean);
}


export function isTegraGpu(files: ReadonlyMap<string, string>, name: string): boolean {
  const base = `/sys/class/devfreq/${name}/device/of_node`;
  if (dtStrings(files.get(`${base}/name`)).some((n) => GPU_CORE.test(n))) return true;
  if (dtStrings(files.get(`${base}/compatible`)).some((c) => GPU_COMPATIBLE.test(c))) return true;
  return GPU_NAME.test(name);
}

function isEmc(files: ReadonlyMap<string, string>, name: string): boolean {
  const base = `/sys/class/devfreq/${name}/device/of_node`;
  return EMC.test(name) || [...dtStrings(files.get(`${base}/name`)), ...dtStrings(files.get(`${base}/compatible`))].some((s) => EMC.test(s));
}

/** nvpmodel.conf's `< POWER_MODEL ID=2 NAME=MODE_15W_6CORE >` lines: id → name. */
export function parseNvpmodelModes(text: string): Map<number, string> {
  const modes = new Map<number, string>();
  for (const m of text.matchAll(/^<\s*POWER_MODEL\s+ID=(\d+)\s+NAME=(\S+?)\s*>/gm)) modes.set(Number(m[1]), m[2]!);
  return modes;
}

/** `/var/lib/nvpmodel/status`: `pmode:0002` (newer releases add ` fmode:…`). */
export function parseNvpmodelStatus(text: string): number | undefined {
  const m = /(?:^|\s)pmode:(\d+)/.exec(text);
  return m ? Number(m[1]) : undefined;
}

export function parseTegraGpu(files: ReadonlyMap<string, string>): TegraGpuResult {
  const errors: string[] = [];
  const gpuNames: string[] = [];
  const emcNames: string[] = [];
  for (const path of files.keys()) {
    const m = DEVFREQ.exec(path);
    if (!m) continue;
    if (isTegraGpu(files, m[1]!)) gpuNames.push(m[1]!);
    else if (isEmc(files, m[1]!)) emcNames.push(m[1]!);
  }
  if (gpuNames.length === 0) return { gpus: [], errors };
  gpuNames.sort(compareNatural);

  const emcFreqHertz =
    unsigned(files, '/sys/kernel/debug/bpmp/debug/clk/emc/rate', 'a clock rate in Hz', errors) ??
    unsigned(files, '/sys/kernel/debug/clk/emc/clk_rate', 'a clock rate in Hz', errors) ??
    (emcNames.length ? unsigned(files, `/sys/class/devfreq/${emcNames[0]}/cur_freq`, 'a frequency in Hz', errors) : undefined);

  const statusText = files.get('/var/lib/nvpmodel/status');
  const powerModeId = statusText === undefined ? undefined : parseNvpmodelStatus(statusText);
  if (statusText !== undefined && statusText.trim() !== '' && powerModeId === undefined) {
    errors.push(new ParseError('/var/lib/nvpmodel/status', 'no pmode:N in nvpmodel status', { text: statusText.trim() }).message);
  }
  const conf = files.get('/etc/nvpmodel.conf');
  const powerMode = powerModeId === undefined ? undefined : (conf !== undefined ? parseNvpmodelModes(conf).get(powerModeId) : undefined) ?? `mode ${powerModeId}`;

  const gpus = gpuNames.map((device): TegraGpuReading => {
    const d = `/sys/class/devfreq/${device}`;
    // Older kernels (L4T 32) keep the load under /sys/devices/gpu.0 only; it is this GPU's when there is one GPU.
    const loadPath = [`${d}/device/load`, ...(gpuNames.length === 1 ? ['/sys/devices/gpu.0/load', '/sys/devices/platform/gpu.0/load'] : [])].find((p) => firstLine(files, p) !== undefined);
    const perMille = loadPath === undefined ? undefined : unsigned(files, loadPath, 'a load in per mille', errors);
    const g: TegraGpuReading = { device };
    if (perMille !== undefined) {
      if (perMille > 1000) errors.push(new ParseError(loadPath!, 'a load over 1000 per mille', { text: String(perMille) }).message);
      else g.loadPercent = perMille / 10;
    }
    const cur = unsigned(files, `${d}/cur_freq`, 'a frequency in Hz', errors);
    const min = unsigned(files, `${d}/min_freq`, 'a frequency in Hz', errors);
    const max = unsigned(files, `${d}/max_freq`, 'a frequency in Hz', errors);
    if (cur !== undefined) g.curFreqHertz = cur;
    if (min !== undefined) g.minFreqHertz = min;
    if (max !== undefined) g.maxFreqHertz = max;
    const governor = firstLine(files, `${d}/governor`);
    if (governor !== undefined) g.governor = governor;
    if (emcFreqHertz !== undefined) g.emcFreqHertz = emcFreqHertz;
    if (powerModeId !== undefined) {
      g.powerModeId = powerModeId;
      g.powerMode = powerMode;
    }
    return g;
  });
  return { gpus, errors };
}
