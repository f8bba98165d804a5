import { DF_KILLED_RC, DF_SECTION } from '../probes.js';
import { parseStorage } from '../../parse/index.js';
import { requireFile, type KindCollector } from './kind.js';

/**
 * What storage keeps between rounds (counter_state, kind `storage`), like node_exporter's
 * stuckMounts: since when this node's df hangs. While set, the probe bounds df on the node.
 */
export interface StorageState {
  dfHungSinceMs?: number;
}

/** Whether a node's last storage state says its df hangs. */
export function dfHung(state: unknown): boolean {
  return typeof (state as StorageState | undefined)?.dfHungSinceMs === 'number';
}

/** Real mounts only: pseudo and overlay filesystems are left out unless the config says otherwise. */
export const storage: KindCollector = {
  kind: 'storage',
  collect({ files, filters, df, prev, nowMs }) {
    const wasHung = dfHung(prev?.sample);
    // Killed: by the hub's command timeout, by a signal (coreutils' timeout -s KILL kills its own
    // process group, itself included), or 137 from the shell's watchdog. Its section may be short.
    if (df !== undefined && (df.timedOut || df.exitStatus === null || (df.bounded && df.exitStatus === DF_KILLED_RC))) {
      const since = wasHung ? (prev!.sample as StorageState).dfHungSinceMs! : nowMs;
      throw new DfHungError(df.timedOut ? df.commandTimeoutSeconds : df.boundSeconds, df.boundSeconds, since);
    }
    const samples = parseStorage(requireFile(files, DF_SECTION), requireFile(files, '/proc/self/mounts'), {
      excludeFsTypes: filters.storageExcludeFsTypes,
      excludeMountPoints: filters.storageExcludeMountPoints,
    });
    const notes = wasHung ? ['df answers again: storage collected, df no longer bounded on the node'] : [];
    // Written only when the state changes: a healthy node costs no counter_state row.
    return { readings: { storage: samples }, rows: samples.length, notes, ...(wasHung ? { counters: {} satisfies StorageState } : {}) };
  },
};

/**
 * df did not answer: a mount hung statfs (a dead NFS or CIFS server, a stopped FUSE daemon).
 * The node's other kinds still land; `counters` keeps since when, for the next round's probe.
 */
export class DfHungError extends Error {
  override name = 'DfHungError';
  readonly counters: StorageState;
  constructor(waitedSeconds: number, boundSeconds: number, sinceMs: number) {
    super(
      `df did not answer within ${waitedSeconds} s (a hung mount?) and was killed on the node: no storage this round; ` +
        `df hangs since ${new Date(sinceMs).toISOString()}, bounded to ${boundSeconds} s on this node until it answers`,
    );
    this.counters = { dfHungSinceMs: sinceMs };
  }
}
