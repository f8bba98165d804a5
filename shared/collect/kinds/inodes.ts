import { DF_INODES_SECTION, parseDfInodes } from '../../parse/index.js';
import { DF_KILLED_RC } from '../probes.js';
import { requireFile, type KindCollector } from './kind.js';

/**
 * How often a node's inodes are read. A second `df` is the dearest part of the probe (+0.75 ms
 * of node CPU per round, bench:collect), and inode counts move slowly: once a minute, on the
 * round after the last sample is this old. 0 would read them every round.
 */
export const INODES_INTERVAL_SECONDS = 60;

/** What inodes keeps between rounds (counter_state, kind `inodes`): when it last read them. */
interface InodesState {
  sampledMs: number;
}

/** Whether the probe should run `df -Pi` on a node this round: never read, or read at least INODES_INTERVAL_SECONDS ago (minus a second of round jitter). */
export function inodesDue(prev: { timeMs: number; sample: unknown } | undefined, nowMs: number): boolean {
  const at = (prev?.sample as InodesState | undefined)?.sampledMs;
  return typeof at !== 'number' || nowMs - at >= (INODES_INTERVAL_SECONDS - 1) * 1000 || nowMs < at;
}

/**
 * Inodes of the real mounts (`df -Pi`, run right after storage's `df -Pk` under the same bound
 * and the same hung-mount state, with storage's mount filters). A df that did not answer fails
 * this kind like storage; a df without `-i` (a busybox built without it) prints nothing: no data.
 */
export const inodes: KindCollector = {
  kind: 'inodes',
  collect({ files, filters, df, nowMs }) {
    // Not due on this node this round (the probe left df -Pi out): nothing, and the state stays.
    if (df?.inodes === false) return { readings: {}, rows: 0, notes: [] };
    if (df !== undefined && (df.timedOut || df.exitStatus === null || (df.bounded && df.exitStatus === DF_KILLED_RC))) {
      throw new Error(`df did not answer within ${df.timedOut ? df.commandTimeoutSeconds : df.boundSeconds} s (a hung mount?): no inodes this round`);
    }
    const text = files.get(DF_INODES_SECTION);
    if (text === undefined || text === '') return { readings: {}, rows: 0, counters: { sampledMs: nowMs } satisfies InodesState, notes: ['df -Pi printed nothing (no -i in this df?): no inodes'] };
    const samples = parseDfInodes(text, requireFile(files, '/proc/self/mounts'), {
      excludeFsTypes: filters.storageExcludeFsTypes,
      excludeMountPoints: filters.storageExcludeMountPoints,
    });
    return { readings: { inodes: samples }, rows: samples.length, counters: { sampledMs: nowMs } satisfies InodesState, notes: [] };
  },
};
