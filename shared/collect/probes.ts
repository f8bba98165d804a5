import type { MetricKind } from '../domain/index.js';
import { randomBytes } from 'node:crypto';
import { shellQuote } from '../transport/shellQuote.js';

/**
 * Probes: the POSIX `sh` a node runs. They only read kernel files (and `df`, which asks the
 * kernel by statfs), run on busybox, and leave all thinking to the parsers on the hub.
 *
 * Output format (what parse/probeOutput.ts splits): `head` prints every file under a header
 * `==> PATH <==`; `/dev/null` goes first so that even one file gets a header, and a file that
 * is missing or cannot be read (a sleeping sensor) just prints nothing. Then the marker
 * `==> edgefleet-files-end NONCE head=STATUS <==`, after a newline of its own so that a last
 * file without one cannot hide it: the files are data only when it is there, and the nonce,
 * new each round, keeps a file's content from faking it. Last, `df -Pk` under `==> df -Pk <==`,
 * exec'd so that the command's exit status is df's: the SSH exit status (sent after the last
 * byte) says df ended. A hung mount stalls only df: the hub's command timeout ends it and keeps
 * the files before the marker; from then on that node's df runs under a bound of its own
 * (`dfTimeoutSeconds`, exit 137 or SIGKILL when it fires) until it answers again.
 */

/** Where the node's kernel files are, like node_exporter's --path.procfs / --path.sysfs. */
export interface ProbeRoots {
  procRoot: string;
  sysRoot: string;
}

export const DEFAULT_ROOTS: ProbeRoots = { procRoot: '/proc', sysRoot: '/sys' };

/** Header under which the probe prints `df -Pk`. */
export const DF_SECTION = 'df -Pk';

/** Header of the marker line that ends head's files: `==> edgefleet-files-end NONCE head=STATUS <==`. */
export const FILES_END = 'edgefleet-files-end';

/** df's exit status when the node's bound killed it (128 + SIGKILL), from `timeout -s KILL` or the shell's own watchdog. */
export const DF_KILLED_RC = 137;

export interface ProbeOptions {
  /** Printed in the end marker; new each round (newProbeNonce), so no file can print the marker. */
  nonce: string;
  /** df is killed on the node after this long when `boundDf`. */
  dfTimeoutSeconds: number;
  /**
   * Bound df on the node (`timeout`, about 0.8 ms of node CPU a round): for a node whose df hung
   * before, until it answers again. Otherwise the hub's command timeout bounds it, and head's
   * files, complete before df starts, are kept.
   */
  boundDf?: boolean;
}

/** Default df bound: a healthy df answers in milliseconds; well under the default command timeout (10 s). */
export const DEFAULT_DF_TIMEOUT_SECONDS = 3;

/** 64 random bits as hex: never in a kernel file by chance, unknown to the node before the round. */
export function newProbeNonce(): string {
  return randomBytes(8).toString('hex');
}

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

/** One shell command that reads every file the given kinds need, in one `head` and at most one (bounded) `df`, ending with the end marker. */
export function probeCommand(kinds: readonly MetricKind[], roots: ProbeRoots = DEFAULT_ROOTS, opts: ProbeOptions = { nonce: newProbeNonce(), dfTimeoutSeconds: DEFAULT_DF_TIMEOUT_SECONDS }): string {
  if (!/^[0-9a-f]{8,64}$/.test(opts.nonce)) throw new RangeError(`probe nonce must be hex, got ${JSON.stringify(opts.nonce)}`);
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
  // head's status 1 is no verdict (a missing glob, a sleeping sensor): the parsers judge the
  // content. Above 128 head was killed and what it had buffered is lost.
  const mark = `\\n==> ${FILES_END} ${opts.nonce} head=%s <==\\n`;
  if (df) parts.push(`printf ${shellQuote(`${mark}==> ${DF_SECTION} <==\\n`)} $?`, opts.boundDf ? boundedDf(opts.dfTimeoutSeconds) : 'exec df -Pk 2>/dev/null');
  else parts.push(`printf ${shellQuote(mark)} $?`);
  return parts.join('; ');
}

/**
 * `exec`s `df -Pk` killed after `seconds`, so the probe's exit status is df's (137 when
 * killed): coreutils' or busybox's `timeout` where there is one (one process more than a bare
 * df), else a watchdog subshell (POSIX sh). SIGKILL also ends a df blocked on a hard NFS mount
 * (TASK_KILLABLE), so no df is left behind.
 */
function boundedDf(seconds: number): string {
  const s = Math.max(1, Math.ceil(seconds));
  return (
    `if command -v timeout >/dev/null 2>&1; then exec timeout -s KILL ${s} df -Pk 2>/dev/null; fi; ` +
    `df -Pk 2>/dev/null & d=$!; (sleep ${s}; kill -9 $d) >/dev/null 2>&1 & w=$!; wait $d; r=$?; kill $w 2>/dev/null; exit $r`
  );
}
