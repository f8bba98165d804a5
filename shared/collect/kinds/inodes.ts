import { DF_INODES_SECTION, parseDfInodes } from '../../parse/index.js';
import { DF_KILLED_RC } from '../probes.js';
import { requireFile, type KindCollector } from './kind.js';

/**
 * Inodes of the real mounts (`df -Pi`, run right after storage's `df -Pk` under the same bound
 * and the same hung-mount state, with storage's mount filters). A df that did not answer fails
 * this kind like storage; a df without `-i` (a busybox built without it) prints nothing: no data.
 */
export const inodes: KindCollector = {
  kind: 'inodes',
  collect({ files, filters, df }) {
    if (df !== undefined && (df.timedOut || df.exitStatus === null || (df.bounded && df.exitStatus === DF_KILLED_RC))) {
      throw new Error(`df did not answer within ${df.timedOut ? df.commandTimeoutSeconds : df.boundSeconds} s (a hung mount?): no inodes this round`);
    }
    const text = files.get(DF_INODES_SECTION);
    if (text === undefined || text === '') return { readings: {}, rows: 0, notes: ['df -Pi printed nothing (no -i in this df?): no inodes'] };
    const samples = parseDfInodes(text, requireFile(files, '/proc/self/mounts'), {
      excludeFsTypes: filters.storageExcludeFsTypes,
      excludeMountPoints: filters.storageExcludeMountPoints,
    });
    return { readings: { inodes: samples }, rows: samples.length, notes: [] };
  },
};
