import { ParseError } from './errors.js';
import { linesOf, unsignedInt } from './fields.js';

/**
 * /proc/self/mounts (same format as /proc/mounts and /etc/mtab):
 * `device mountPoint fsType options dump pass`, one mount per line, separated by single
 * spaces. The kernel escapes space, tab, newline and backslash in the first two fields as
 * octal `\040`, `\011`, `\012`, `\134`; they are decoded here.
 */

const FILE = '/proc/self/mounts';

/** One line of /proc/self/mounts. */
export interface MountEntry {
  /** Source, decoded (`/dev/mmcblk0p2`, `tmpfs`, `server:/export`). */
  device: string;
  /** Mount point, decoded (`/media/my disk`). */
  mountPoint: string;
  /** Filesystem type (`ext4`, `vfat`, `fuse.sshfs`). */
  fsType: string;
  /** Mount options (`rw`, `relatime`, ...). */
  options: string[];
}

/** Decode the kernel's `\ooo` octal escapes. */
export function unescapeOctal(field: string): string {
  return field.replace(/\\([0-7]{3})/g, (_, oct: string) => String.fromCharCode(parseInt(oct, 8)));
}

/** Parse /proc/self/mounts, in file order (later lines are mounted on top of earlier ones). */
export function parseMounts(text: string): MountEntry[] {
  const lines = linesOf(text);
  if (lines.length === 0) throw new ParseError(FILE, 'empty: a mount table always has the root', { text });
  return lines.map((line, i) => {
    const fields = line.split(' ');
    const [device, mountPoint, fsType, options, dump, pass] = fields;
    if (
      fields.length !== 6 ||
      device === undefined ||
      mountPoint === undefined ||
      fsType === undefined ||
      options === undefined ||
      dump === undefined ||
      pass === undefined ||
      device === '' ||
      !mountPoint.startsWith('/') ||
      !/^[A-Za-z0-9_.+-]+$/.test(fsType) ||
      options === ''
    ) {
      throw new ParseError(FILE, 'not a "device mountpoint fstype options dump pass" line', { line: i + 1, text: line });
    }
    unsignedInt(dump, { file: FILE, line: i + 1, field: 'dump' });
    unsignedInt(pass, { file: FILE, line: i + 1, field: 'pass' });
    return {
      device: unescapeOctal(device),
      mountPoint: unescapeOctal(mountPoint),
      fsType,
      options: options.split(','),
    };
  });
}
