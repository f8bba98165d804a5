import { parseMeminfo } from '../../parse/index.js';
import { requireFile, type KindCollector } from './kind.js';

export const memory: KindCollector = {
  kind: 'memory',
  collect({ files }) {
    const sample = parseMeminfo(requireFile(files, '/proc/meminfo'));
    return { readings: { memory: sample }, rows: 1, notes: [] };
  },
};
