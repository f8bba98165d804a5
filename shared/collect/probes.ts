import type { MetricKind } from '../domain/index.js';
import { shellQuote } from '../transport/shellQuote.js';

/**
 * Probes: the POSIX `sh` a node runs. They only read kernel files (and `df`, which asks the
 * kernel by statfs), run on busybox, and leave all thinking to the parsers on the hub.
 *
 * Output format (what parse/probeOutput.ts splits): `head` prints every file under a header
 * `==> PATH <==`; `/dev/null` goes first so that even one file gets a header, and a file that
 * is missing or cannot be read (a sleeping sensor) just prints nothing. `df -Pk` comes last,
 * under the header `==> df -Pk <==`, because a hung network mount can only stall the tail.
 */

/** Where the node's kernel files are, like node_exporter's --path.procfs / --path.sysfs. */
export interface ProbeRoots {
  procRoot: string;
  sysRoot: string;
}

export const DEFAULT_ROOTS: ProbeRoots = { procRoot: '/proc', sysRoot: '/sys' };

/** Header under which the probe prints `df -Pk`. */
export const DF_SECTION = 'df -Pk';

interface ProbeFiles {
  /** Paths under the proc root. */
  proc?: string[];
  /** Paths (globs) under the sys root. */
  sys?: string[];
  /** Absolute paths, never moved by the roots. */
  fixed?: string[];
  df?: boolean;
}

const PROBE_FILES: Record<MetricKind, ProbeFiles> = {
  temperature: {
    sys: [
      'class/thermal/thermal_zone*/type',
      'class/thermal/thermal_zone*/temp',
      'class/hwmon/hwmon*/name',
      'class/hwmon/hwmon*/temp*_label',
      'class/hwmon/hwmon*/temp*_input',
    ],
  },
  cpu: { proc: ['stat', 'loadavg'] },
  memory: { proc: ['meminfo'] },
  // statfs (df) sees the live mount namespace, so the mount table must be the live one too:
  // storage is not moved by edgefleet_proc_root.
  storage: { fixed: ['/proc/self/mounts'], df: true },
  // uptime: the node's own clock, so a slow link does not skew the rate's interval.
  network: { proc: ['net/dev', 'uptime'] },
};

/** One shell command that reads every file the given kinds need, in one `head` and at most one `df`. */
export function probeCommand(kinds: readonly MetricKind[], roots: ProbeRoots = DEFAULT_ROOTS): string {
  const words: string[] = [];
  let df = false;
  for (const kind of kinds) {
    const files = PROBE_FILES[kind];
    for (const p of files.proc ?? []) if (!words.includes(`"$P"/${p}`)) words.push(`"$P"/${p}`);
    for (const s of files.sys ?? []) words.push(`"$S"/${s}`);
    for (const f of files.fixed ?? []) words.push(shellQuote(f));
    df ||= files.df === true;
  }
  const parts = [`P=${shellQuote(roots.procRoot)} S=${shellQuote(roots.sysRoot)}`];
  parts.push(`head -n 100000 /dev/null ${words.join(' ')} 2>/dev/null`);
  if (df) parts.push(`echo ${shellQuote(`==> ${DF_SECTION} <==`)}`, 'exec df -Pk 2>/dev/null');
  // The probe's own exit status is not the verdict (a missing glob makes head exit 1):
  // the parsers judge the content.
  else parts.push('true');
  return parts.join('; ');
}
