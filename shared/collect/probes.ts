import type { MetricKind } from '../domain/index.js';
import { createHash, randomBytes } from 'node:crypto';
import { shellQuote } from '../transport/shellQuote.js';
import { DF_INODES_SECTION } from '../parse/dfInodes.js';
import { NVIDIA_SMI_FIELDS } from '../parse/nvidiaSmi.js';

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
  /** Where the node's own files (/etc, /var) are, like node_exporter's --path.rootfs (default `/`). */
  rootfsRoot?: string;
  /** The `vcgencmd` to run where the Pi firmware's sysfs `get_throttled` is missing (default: `vcgencmd` on PATH). */
  vcgencmd?: string;
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
  /** false: leave `df -Pi` out this round (the inodes kind is not due on this node; kinds/inodes.ts). */
  inodes?: boolean;
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
  /** Paths under the rootfs root (`etc/nvpmodel.conf`). */
  rootfs?: string[];
  /**
   * Shell run after head, before the end marker (so its output is complete only with it): it
   * prints its own `==> NAME <==` header. Only for what no file holds; `$P`, `$S`, `$R`, `$V` are
   * the roots and the vcgencmd.
   */
  sh?: string[];
  df?: boolean;
  /** `df -Pi` after `df -Pk` (inodes), under the same bound. */
  dfInodes?: boolean;
  /** nvidia-smi's query, when the binary exists, before head's files. */
  nvidiaSmi?: boolean;
}

/** Section header of the vcgencmd fallback (clocks). */
export const VCGENCMD_SECTION = 'vcgencmd get_throttled';

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
  network: {
    proc: ['net/dev', 'uptime'],
    // Link state: a down link's carrier and speed fail to read (EINVAL) and print nothing.
    sys: ['class/net/*/operstate', 'class/net/*/carrier', 'class/net/*/speed'],
  },
  diskio: { proc: ['diskstats', 'uptime'] },
  inodes: { fixed: ['/proc/self/mounts'], df: true, dfInodes: true },
  pressure: { proc: ['pressure/cpu', 'pressure/memory', 'pressure/io', 'uptime'] },
  nvidia: { nvidiaSmi: true },
  // Tegra GPU: every devfreq device's identity and clocks (the parser picks the GPU and the EMC),
  // the GPU's busy share (older kernels only under gpu.0), the EMC clock from debugfs (root only),
  // nvpmodel's mode and its names.
  tegraGpu: {
    sys: [
      'class/devfreq/*/device/of_node/name',
      'class/devfreq/*/device/of_node/compatible',
      'class/devfreq/*/cur_freq',
      'class/devfreq/*/min_freq',
      'class/devfreq/*/max_freq',
      'class/devfreq/*/governor',
      'class/devfreq/*/device/load',
      'devices/gpu.0/load',
      'devices/platform/gpu.0/load',
      'kernel/debug/bpmp/debug/clk/emc/rate',
      'kernel/debug/clk/emc/clk_rate',
    ],
    rootfs: ['var/lib/nvpmodel/status', 'etc/nvpmodel.conf'],
  },
  // INA3221 rails (hwmon, and L4T 32's iio layout) and RAPL counters; uptime times the RAPL rate.
  power: {
    proc: ['uptime'],
    sys: [
      'class/hwmon/hwmon*/name',
      'class/hwmon/hwmon*/in*_label',
      'class/hwmon/hwmon*/in*_input',
      'class/hwmon/hwmon*/curr*_input',
      'bus/i2c/drivers/ina3221x/*/iio:device*/rail_name_*',
      'bus/i2c/drivers/ina3221x/*/iio:device*/in_power*_input',
      'bus/i2c/drivers/ina3221x/*/iio:device*/in_voltage*_input',
      'bus/i2c/drivers/ina3221x/*/iio:device*/in_current*_input',
      'class/powercap/intel-rapl:*/name',
      'class/powercap/intel-rapl:*/energy_uj',
      'class/powercap/intel-rapl:*/max_energy_range_uj',
    ],
  },
  // cpufreq per CPU, x86 thermal throttle counters (with the topology that labels them), the Pi
  // firmware's throttle word; vcgencmd only where its sysfs file is missing.
  clocks: {
    sys: [
      'devices/system/cpu/cpu[0-9]*/cpufreq/scaling_cur_freq',
      'devices/system/cpu/cpu[0-9]*/cpufreq/scaling_min_freq',
      'devices/system/cpu/cpu[0-9]*/cpufreq/scaling_max_freq',
      'devices/system/cpu/cpu[0-9]*/thermal_throttle/core_throttle_count',
      'devices/system/cpu/cpu[0-9]*/thermal_throttle/package_throttle_count',
      'devices/system/cpu/cpu[0-9]*/topology/physical_package_id',
      'devices/system/cpu/cpu[0-9]*/topology/core_id',
      'devices/platform/*/*firmware/get_throttled',
    ],
    sh: [
      // Killed after 2 s by the shell's own watchdog (vcgencmd can block on the VideoCore mailbox).
      // $G: the sys files found (probeParts), so the firmware's word is not globbed twice a round.
      `case $G in *"firmware/get_throttled'"*) ;; *) if command -v "$V" >/dev/null 2>&1; then printf '\\n==> ${VCGENCMD_SECTION} <==\\n'; ` +
        `"$V" get_throttled 2>/dev/null & d=$!; (sleep 2; kill -9 $d) >/dev/null 2>&1 & w=$!; wait $d; kill $w 2>/dev/null; fi ;; esac`,
    ],
  },
};

/** What the nvidia kind asks nvidia-smi (parse/nvidiaSmi.ts parses it in this order). */
export const NVIDIA_SMI_QUERY = `--query-gpu=${NVIDIA_SMI_FIELDS.join(',')}`;

/** One shell command that reads every file the given kinds need, in one `head` and at most one (bounded) `df`, ending with the end marker. */
export function probeCommand(kinds: readonly MetricKind[], roots: ProbeRoots = DEFAULT_ROOTS, opts: ProbeOptions = { nonce: newProbeNonce(), dfTimeoutSeconds: DEFAULT_DF_TIMEOUT_SECONDS }): string {
  const p = probeParts(kinds, roots, opts);
  return [`${p.vars} N=${checkedNonce(opts.nonce)}`, ...p.files, ...(p.df ? [p.df] : [])].join('; ');
}

/**
 * The same probe for a node's long-lived shell (transport/shellSession.ts): `setup` defines it
 * as a function, once per shell (its name from its text, so one shell keeps each variant it was
 * asked for); `call` runs it with this round's nonce. df runs in a subshell (its `exec` and
 * `exit` end that, not the shell), so the function's status is df's, as the command's is.
 */
export function probeScript(kinds: readonly MetricKind[], roots: ProbeRoots, opts: ProbeOptions): { setup: string; call: string } {
  const p = probeParts(kinds, roots, opts);
  const body = [`${p.vars} N=$1`, ...p.files, ...(p.df ? [`( ${p.df} )`] : [])].join('; ');
  const name = `edgefleet_probe_${createHash('sha1').update(body).digest('hex').slice(0, 12)}`;
  return { setup: `${name}() { ${body}; }`, call: `${name} ${checkedNonce(opts.nonce)}` };
}

function checkedNonce(nonce: string): string {
  if (!/^[0-9a-f]{8,64}$/.test(nonce)) throw new RangeError(`probe nonce must be hex, got ${JSON.stringify(nonce)}`);
  return nonce;
}

/** The probe's pieces: the roots' assignments, what reads the files up to the end marker (the nonce is `$N`), and df's part. */
function probeParts(kinds: readonly MetricKind[], roots: ProbeRoots, opts: Omit<ProbeOptions, 'nonce'>): { vars: string; files: string[]; df?: string } {
  const words: string[] = [];
  const extra: string[] = [];
  let df = false;
  let dfInodes = false;
  let nvidiaSmi = false;
  let rootfs = false;
  const globs: string[] = [];
  // Two kinds may read the same file (hwmon names): it is read once.
  const add = (w: string, into = words) => {
    if (!into.includes(w)) into.push(w);
  };
  for (const kind of kinds) {
    const files = PROBE_FILES[kind];
    for (const p of files.proc ?? []) add(`"$P"/${p}`);
    for (const s of files.sys ?? []) add(`"$S"/${s}`, /[*?[]/.test(s) ? globs : words);
    for (const f of files.fixed ?? []) add(shellQuote(f));
    for (const r of files.rootfs ?? []) add(`"$R"/${r}`);
    for (const x of files.sh ?? []) extra.push(x);
    rootfs ||= (files.rootfs?.length ?? 0) > 0;
    // inodes alone, not due this round: no df at all.
    if (files.dfInodes && opts.inodes === false) continue;
    df ||= files.df === true;
    dfInodes ||= files.dfInodes === true;
    nvidiaSmi ||= files.nvidiaSmi === true;
  }
  let vars = `P=${shellQuote(roots.procRoot)} S=${shellQuote(roots.sysRoot)}`;
  if (rootfs) vars += ` R=${shellQuote((roots.rootfsRoot ?? '/').replace(/\/+$/, ''))}`;
  if (extra.length) vars += ` V=${shellQuote(roots.vcgencmd ?? 'vcgencmd')}`;
  // The C locale: what the parsers read (a translated df header, a decimal comma from
  // nvidia-smi), and no locale to load for head and df (0.3 ms each a round under C.UTF-8 here).
  const parts: string[] = ['export LC_ALL=C'];
  // Before head's files, so that its section is inside the marked part. `command -v` is a shell
  // builtin: a node without the binary pays nothing and prints no section (no data).
  if (nvidiaSmi) parts.push(nvidiaSmiSection(opts.dfTimeoutSeconds));
  if (globs.length) parts.push(...discovery(globs));
  parts.push(`head -n 100000 /dev/null ${words.join(' ')}${globs.length ? ' "$@"' : ''} 2>/dev/null`);
  // head's status 1 is no verdict (a missing glob, a sleeping sensor): the parsers judge the
  // content. Above 128 head was killed and what it had buffered is lost.
  let status = '$?';
  if (extra.length) {
    parts.push('h=$?', ...extra);
    status = '$h';
  }
  const mark = `\\n==> ${FILES_END} %s head=%s <==\\n`;
  if (!df) {
    parts.push(`printf ${shellQuote(mark)} "$N" ${status}`);
    return { vars, files: parts };
  }
  parts.push(`printf ${shellQuote(`${mark}==> ${DF_SECTION} <==\\n`)} "$N" ${status}`);
  return { vars, files: parts, df: dfInodes ? dfBoth(opts) : opts.boundDf ? boundedDf(opts.dfTimeoutSeconds) : 'exec df -Pk 2>/dev/null' };
}

/** A long-lived shell finds the globbed sys files again on every this-many-th probe (about once a minute at the hub's 10 s). */
export const DISCOVER_EVERY_ROUNDS = 6;

/**
 * Shell that sets `"$@"` (and `$G`, the same as shell words) to the sys files the globs match.
 * Globbing reads every directory on the way (a Jetson's devices/platform holds hundreds), the
 * dearer part of the files; a long-lived shell (transport/shellSession.ts) keeps what it found,
 * in variables named after the glob list, and globs again every DISCOVER_EVERY_ROUNDS-th probe
 * (a new interface, a reloaded driver's hwmon); a command of its own globs every time. A path
 * is kept as `"$S"/'REL'`, the root expanded only when used; a kernel name holding `'` is left out.
 */
function discovery(globs: readonly string[]): string[] {
  const id = createHash('sha1').update(globs.join('\0')).digest('hex').slice(0, 12);
  const [n, g] = [`edgefleet_n_${id}`, `edgefleet_g_${id}`];
  return [
    `${n}=$((\${${n}:-0} % ${DISCOVER_EVERY_ROUNDS} + 1))`,
    `if [ "$${n}" = 1 ]; then ${g}=; for f in ${globs.join(' ')}; do r=\${f#"$S"/}; case $r in *\\'*) continue ;; esac; [ -e "$f" ] && ${g}="$${g} \\"\\$S\\"/'$r'"; done; fi`,
    `G=$${g}`,
    'eval "set -- $G"',
  ];
}

/**
 * `df -Pk`, then `df -Pi` under a header of its own, each bounded like df alone when `boundDf`;
 * the command's exit status is the last df's. A df -Pk killed by the bound (a hung mount) skips df -Pi, which
 * would hang on the same mount.
 */
function dfBoth(opts: Omit<ProbeOptions, 'nonce'>): string {
  const s = Math.max(1, Math.ceil(opts.dfTimeoutSeconds));
  const run = (args: string) =>
    `if command -v timeout >/dev/null 2>&1; then timeout -s KILL ${s} df ${args} 2>/dev/null; r=$?; else df ${args} 2>/dev/null & d=$!; (sleep ${s}; kill -9 $d) >/dev/null 2>&1 & w=$!; wait $d; r=$?; kill $w 2>/dev/null; fi`;
  const header = `printf ${shellQuote(`\\n==> ${DF_INODES_SECTION} <==\\n`)}`;
  // Unbounded (every healthy node): df -Pk's status is no verdict (the hub's timeout bounds it), so df -Pi is exec'd: one fork fewer.
  if (!opts.boundDf) return `df -Pk 2>/dev/null; ${header}; exec df -Pi 2>/dev/null`;
  return `${run('-Pk')}; if [ $r -ge 128 ]; then exit $r; fi; ${header}; ${run('-Pi')}; exit $r`;
}

/**
 * nvidia-smi, when it is on the node's PATH, killed after `seconds` (it can hang on a GPU that
 * fell off the bus): its stdout and stderr under `==> nvidia-smi <==`, its exit status in the
 * header `==> nvidia-smi exit=N <==` (137: killed). The shell's own watchdog, never coreutils'
 * `timeout`, which kills its whole process group (the probe's shell, before head's files).
 */
function nvidiaSmiSection(seconds: number): string {
  const s = Math.max(1, Math.ceil(seconds));
  return (
    `if command -v nvidia-smi >/dev/null 2>&1; then printf '==> nvidia-smi <==\\n'; ` +
    `nvidia-smi ${NVIDIA_SMI_QUERY} --format=csv,noheader,nounits 2>&1 & d=$!; (sleep ${s}; kill -9 $d) >/dev/null 2>&1 & w=$!; wait $d; r=$?; kill $w 2>/dev/null; ` +
    `printf '\\n==> nvidia-smi exit=%s <==\\n' $r; fi`
  );
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
