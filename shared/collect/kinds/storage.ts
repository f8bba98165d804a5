import { DF_SECTION } from '../probes.js';
import { parseStorage } from '../../parse/index.js';
import { requireFile, type KindCollector } from './kind.js';

/** Real mounts only: pseudo and overlay filesystems are left out unless the config says otherwise. */
export const storage: KindCollector = {
  kind: 'storage',
  collect({ files, filters }) {
    const samples = parseStorage(requireFile(files, DF_SECTION), requireFile(files, '/proc/self/mounts'), {
      excludeFsTypes: filters.storageExcludeFsTypes,
      excludeMountPoints: filters.storageExcludeMountPoints,
    });
    return { readings: { storage: samples }, rows: samples.length, notes: [] };
  },
};
