import type { InodesSample } from '../domain/index.js';
import { DEFAULT_EXCLUDE_FS_TYPES, DEFAULT_EXCLUDE_MOUNT_POINTS, type StorageOptions } from './df.js';
import { ParseError } from './errors.js';
import { linesOf, unsignedInt } from './fields.js';
import { parseMounts } from './mounts.js';

/**
 * `df -Pi`, joined with /proc/self/mounts for the fs type, like storage's `df -Pk`:
 *
 *     Filesystem       Inodes   IUsed    IFree IUse% Mounted on         (GNU coreutils)
 *     /dev/root       1912320  187052  1725268   10% /
 *     Filesystem       Inodes    Used Available Capacity Mounted on    (busybox)
 *
 * Filesystems that keep no inode count (vfat, btrfs, many FUSE) print 0 (or `-`) inodes:
 * left out, as there is nothing to run out of.
 */

/** Section name of `df -Pi` in the probe's output. */
export const DF_INODES_SECTION = 'df -Pi';

const HEADER = /^Filesystem\s+Inodes\s+(?:IUsed|Used)\s+(?:IFree|Available)\s+(?:IUse%|Capacity|Use%)\s+Mounted on\s*$/;
const ROW = /^(\S.*?)\s+([0-9]+|-)\s+([0-9]+|-)\s+([0-9]+|-)\s+([0-9]+%|-) (\/.*)$/;

/** Inodes of the real mounts (the storage kind's filters: pseudo and overlay filesystems left out). */
export function parseDfInodes(dfText: string, mountsText: string, opts: StorageOptions = {}): InodesSample[] {
  const excludeFsTypes = opts.excludeFsTypes ?? DEFAULT_EXCLUDE_FS_TYPES;
  const excludeMountPoints = opts.excludeMountPoints ?? DEFAULT_EXCLUDE_MOUNT_POINTS;
  const [header, ...rows] = linesOf(dfText);
  if (header === undefined || !HEADER.test(header)) {
    throw new ParseError(DF_INODES_SECTION, 'no "Filesystem Inodes IUsed IFree IUse% Mounted on" header', { line: 1, text: header ?? dfText });
  }
  const fsTypeAt = new Map<string, string>();
  for (const m of parseMounts(mountsText)) fsTypeAt.set(m.mountPoint, m.fsType);
  const byMountPoint = new Map<string, InodesSample>();
  rows.forEach((line, i) => {
    const m = ROW.exec(line);
    if (!m) throw new ParseError(DF_INODES_SECTION, 'not a "device inodes used free use% mountpoint" line', { line: i + 2, text: line });
    const mountPoint = m[6]!;
    const num = (s: string, field: string) => (s === '-' ? undefined : unsignedInt(s, { file: DF_INODES_SECTION, line: i + 2, field: `${field} of ${mountPoint}` }));
    const files = num(m[2]!, 'Inodes');
    const used = num(m[3]!, 'IUsed');
    const free = num(m[4]!, 'IFree');
    const fsType = fsTypeAt.get(mountPoint);
    if (fsType === undefined || excludeFsTypes.test(fsType) || excludeMountPoints.test(mountPoint)) return;
    if (files === undefined || used === undefined || free === undefined || files === 0) return;
    byMountPoint.delete(mountPoint);
    byMountPoint.set(mountPoint, { device: m[1]!, mountPoint, fsType, files, filesFree: free, usedPercent: ((files - free) / files) * 100 });
  });
  return [...byMountPoint.values()];
}
