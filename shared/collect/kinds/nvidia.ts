import { NVIDIA_SMI_EXIT, NVIDIA_SMI_SECTION, parseNvidiaSmi } from '../../parse/index.js';
import { DF_KILLED_RC } from '../probes.js';
import type { KindCollector } from './kind.js';

/**
 * NVIDIA discrete GPUs through nvidia-smi. No binary on the node: no section, no data, no error.
 * nvidia-smi failing (the driver gone, a GPU fallen off the bus, killed by its bound) is this
 * kind's error in nvidia-smi's words; the GPUs it still printed are kept.
 */
export const nvidia: KindCollector = {
  kind: 'nvidia',
  collect({ files }) {
    const text = files.get(NVIDIA_SMI_SECTION);
    if (text === undefined) return { readings: {}, rows: 0, notes: [] };
    let exit: number | undefined;
    for (const name of files.keys()) {
      const m = NVIDIA_SMI_EXIT.exec(name);
      if (m) exit = Number(m[1]);
    }
    const { gpus, errors } = parseNvidiaSmi(text);
    let error: string | undefined;
    if (exit === undefined) error = 'nvidia-smi output cut off (no exit status)';
    else if (exit === DF_KILLED_RC) error = 'nvidia-smi did not answer in time and was killed on the node (a GPU fallen off the bus?)';
    else if (exit !== 0 || errors.length > 0) error = `nvidia-smi exited with status ${exit}: ${errors.join(' | ').slice(0, 300) || 'no message'}`;
    return { readings: gpus.length ? { nvidia: gpus } : {}, rows: gpus.length, notes: [], ...(error ? { error } : {}) };
  },
};
