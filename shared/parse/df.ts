import type { StorageSample } from '../domain/index.js';
import { ParseError } from './errors.js';
import { linesOf, unsignedInt } from './fields.js';
import { parseMounts } from './mounts.js';

/**
 * `df -Pk` (POSIX output, 1024-byte blocks), joined with /proc/self/mounts for the fs type.
 *
 *     Filesystem     1024-blocks     Used Available Capacity Mounted on
 *     /dev/mmcblk0p2    30358348  5412872  23648212      19% /
 *
 * POSIX keeps each filesystem on one line however long its device name. The mount point is
 * the rest of the line after Capacity, so it may hold spaces; the device is matched lazily,
 * so it may too. Capacity is `-` when df cannot compute it.
 */

/** Section name of df's output in the probe (the probe prints it under `==> df -Pk <==`). */
const FILE = 'df -Pk';

/**
 * Pseudo, virtual and overlay filesystems left out by default: node_exporter's
 * `--collector.filesystem.fs-types-exclude` plus tmpfs, ramfs and friends.
 */
export const DEFAULT_EXCLUDE_FS_TYPES =
  /^(autofs|binfmt_misc|bpf|cgroup2?|configfs|debugfs|devpts|devtmpfs|efivarfs|erofs|fusectl|fuse\.gvfsd-fuse|fuse\.lxcfs|fuse\.portal|hugetlbfs|mqueue|nsfs|overlay|proc|procfs|pstore|ramfs|rootfs|rpc_pipefs|securityfs|selinuxfs|squashfs|sysfs|tmpfs|tracefs)$/;

/**
 * Mount points left out by default: kernel trees and container internals, like node_exporter's
 * `--collector.filesystem.mount-points-exclude`.
 */
export const DEFAULT_EXCLUDE_MOUNT_POINTS = /^\/(dev|proc|sys|run\/credentials|var\/lib\/docker|var\/lib\/containers)(\/|$)/;

export interface StorageOptions {
  /** Filesystem types to leave out; replaces DEFAULT_EXCLUDE_FS_TYPES. */
  excludeFsTypes?: RegExp;
  /** Mount points to leave out; replaces DEFAULT_EXCLUDE_MOUNT_POINTS. */
  excludeMountPoints?: RegExp;
}

/** One data line of `df -Pk`, before the join. Undefined numbers were printed as `-`. */
export interface DfEntry {
  device: string;
  mountPoint: string;
  totalKiB?: number;
  usedKiB?: number;
  availableKiB?: number;
}

const HEADER = /^Filesystem\s+(?:1024|1k|1K)-blocks\s+Used\s+Available\s+(?:Capacity|Use%)\s+Mounted on\s*$/;
const ROW = /^(\S.*?)\s+([0-9]+|-)\s+([0-9]+|-)\s+([0-9]+|-)\s+([0-9]+%|-) (\/.*)$/;

/** Parse `df -Pk` alone. Output without the POSIX header, or a line of another shape, throws ParseError. */
export function parseDf(text: string): DfEntry[] {
  const lines = linesOf(text);
  const [header, ...rows] = lines;
  if (header === undefined || !HEADER.test(header)) {
    throw new ParseError(FILE, 'no "Filesystem 1024-blocks Used Available Capacity Mounted on" header', {
      line: 1,
      text: header ?? text,
    });
  }
  return rows.map((line, i) => {
    const m = ROW.exec(line);
    if (!m) throw new ParseError(FILE, 'not a "device blocks used available capacity mountpoint" line', { line: i + 2, text: line });
    const num = (s: string, field: string) =>
      s === '-' ? undefined : unsignedInt(s, { file: FILE, line: i + 2, field: `${field} of ${m[6]!}` });
    const entry: DfEntry = { device: m[1]!, mountPoint: m[6]! };
    const total = num(m[2]!, '1024-blocks');
    const used = num(m[3]!, 'Used');
    const available = num(m[4]!, 'Available');
    if (total !== undefined) entry.totalKiB = total;
    if (used !== undefined) entry.usedKiB = used;
    if (available !== undefined) entry.availableKiB = available;
    return entry;
  });
}

/**
 * Real filesystems with their sizes: `df -Pk` joined on the mount point with
 * /proc/self/mounts (the last mount at a point wins, as it is the one df sees).
 * Left out: excluded fs types and mount points, filesystems with 0 (or unknown) blocks, and
 * df lines whose mount point is not in the mount table (mounted between the two reads: their
 * fs type is unknown, so they cannot be filtered; they come back on the next cycle).
 * usedPercent is used / (used + available) × 100, what df shows as Capacity before rounding up.
 */
export function parseStorage(dfText: string, mountsText: string, opts: StorageOptions = {}): StorageSample[] {
  const excludeFsTypes = opts.excludeFsTypes ?? DEFAULT_EXCLUDE_FS_TYPES;
  const excludeMountPoints = opts.excludeMountPoints ?? DEFAULT_EXCLUDE_MOUNT_POINTS;
  const fsTypeAt = new Map<string, string>();
  for (const m of parseMounts(mountsText)) fsTypeAt.set(m.mountPoint, m.fsType);
  const byMountPoint = new Map<string, StorageSample>();
  for (const e of parseDf(dfText)) {
    const fsType = fsTypeAt.get(e.mountPoint);
    if (fsType === undefined || excludeFsTypes.test(fsType) || excludeMountPoints.test(e.mountPoint)) continue;
    if (e.totalKiB === undefined || e.usedKiB === undefined || e.availableKiB === undefined) continue;
    if (e.totalKiB === 0 || e.usedKiB + e.availableKiB === 0) continue;
    byMountPoint.delete(e.mountPoint);
    byMountPoint.set(e.mountPoint, {
      device: e.device,
      mountPoint: e.mountPoint,
      fsType,
      totalBytes: e.totalKiB * 1024,
      usedBytes: e.usedKiB * 1024,
      availableBytes: e.availableKiB * 1024,
      usedPercent: (e.usedKiB / (e.usedKiB + e.availableKiB)) * 100,
    });
  }
  return [...byMountPoint.values()];
}
