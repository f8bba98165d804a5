import { parseTegraGpu } from '../../parse/index.js';
import type { KindCollector } from './kind.js';

/** The Jetson GPU's load, clocks, EMC clock and nvpmodel mode; a node without one has no data, which is not a failure. */
export const tegraGpu: KindCollector = {
  kind: 'tegraGpu',
  collect({ files }) {
    const { gpus, errors } = parseTegraGpu(files);
    return { readings: { tegraGpu: gpus }, rows: gpus.length, notes: errors };
  },
};
