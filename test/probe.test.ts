/**
 * The probe as nodes run it: under busybox's sh with busybox's own head and df (a Raspberry
 * Pi or Jetson image with nothing else), it must print what GNU coreutils under dash prints,
 * so the parsers see the same files. Quoting: a root with shell metacharacters stays a path.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, symlinkSync, existsSync, mkdirSync, cpSync, writeFileSync } from 'node:fs';
import { processesWith } from './harness/procs.js';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { METRIC_KINDS } from '../shared/domain/index.js';
import { probeCommand, DF_SECTION, DF_KILLED_RC } from '../shared/collect/probes.js';
import { DF_INODES_SECTION, parseDfInodes } from '../shared/parse/index.js';
import { parseMeminfo, parseProcStat, parseTemperatures, probeEnd, splitProbeOutput } from '../shared/parse/index.js';

const BUSYBOX = '/bin/busybox';
const MACHINES = join(import.meta.dirname, 'fixtures', 'machines');
const dir = mkdtempSync(join(tmpdir(), 'edgefleet-probe-'));
after(() => rmSync(dir, { recursive: true, force: true }));

describe('probe', { skip: !existsSync(BUSYBOX) && 'busybox is not installed (apt-get install busybox)' }, () => {
  // A PATH holding only busybox applets: nothing from coreutils can sneak in.
  const bin = join(dir, 'bin');
  mkdirSync(bin);
  for (const applet of ['sh', 'head', 'df', 'timeout', 'sleep']) symlinkSync(BUSYBOX, join(bin, applet));
  // A busybox without `timeout` (older or trimmed builds): the shell's own watchdog bounds df.
  const bare = join(dir, 'bare');
  mkdirSync(bare);
  for (const applet of ['sh', 'head', 'df', 'sleep']) symlinkSync(BUSYBOX, join(bare, applet));
  const root = join(dir, "jet $(touch pwned) `touch pwned2` 'o'");
  cpSync(join(MACHINES, 'jetson-orin'), root, { recursive: true, verbatimSymlinks: true });
  const roots = { procRoot: join(root, 'proc'), sysRoot: join(root, 'sys') };
  const nonce = '0123456789abcdef';
  // df bounded on the node, as for a node whose df hung before; `plain` as for every other node.
  const command = probeCommand(METRIC_KINDS, roots, { nonce, dfTimeoutSeconds: 1, boundDf: true });
  const plain = probeCommand(METRIC_KINDS, roots, { nonce, dfTimeoutSeconds: 1 });

  /** The probe's output, checked complete with its exit status as the transport would. */
  const runWith = (shell: string, env: NodeJS.ProcessEnv, cmd = command) => {
    const r = spawnSync(shell, ['-c', cmd], { env, cwd: dir, encoding: 'utf8' });
    return probeEnd(r.stdout, nonce, r.status);
  };
  const busyboxEnd = runWith(join(bin, 'sh'), { PATH: bin });
  const busybox = busyboxEnd.body;
  const bareEnd = runWith(join(bare, 'sh'), { PATH: bare });
  const plainEnd = runWith(join(bin, 'sh'), { PATH: bin }, plain);
  const gnuEnd = runWith('/bin/sh', { PATH: '/usr/bin:/bin' });
  const gnu = gnuEnd.body;

  it('prints every file under busybox as under GNU coreutils', () => {
    const a = splitProbeOutput(busybox, roots);
    const b = splitProbeOutput(gnu, roots);
    for (const [path, text] of b) {
      // df and the mount table are the live system's, read a moment apart.
      if (path === DF_SECTION || path === DF_INODES_SECTION || path === '/proc/self/mounts') continue;
      assert.equal(a.get(path), text, path);
    }
    assert.ok(a.has(DF_SECTION), 'busybox df ran');
    // Both dfs' inode tables parse alike (their headers differ: IUsed/IFree vs Used/Available).
    assert.ok(parseDfInodes(a.get(DF_INODES_SECTION)!, b.get('/proc/self/mounts')!).length > 0, 'busybox df -Pi parses');
    assert.ok(parseDfInodes(b.get(DF_INODES_SECTION)!, b.get('/proc/self/mounts')!).length > 0, 'GNU df -Pi parses');
    assert.equal(busyboxEnd.exitCode, 0, "df's status is the probe's");
    assert.equal(gnuEnd.exitCode, 0);
    assert.deepEqual([...splitProbeOutput(bareEnd.body, roots).keys()], [...a.keys()], 'without timeout: the same files');
    assert.equal(bareEnd.exitCode, 0);
    assert.deepEqual([...splitProbeOutput(plainEnd.body, roots).keys()], [...a.keys()], 'df not bounded: the same files');
    assert.deepEqual(parseProcStat(a.get('/proc/stat')!), parseProcStat(b.get('/proc/stat')!));
    assert.deepEqual(parseMeminfo(a.get('/proc/meminfo')!), parseMeminfo(b.get('/proc/meminfo')!));
    assert.ok(parseTemperatures(a).readings.length > 0);
  });

  it('keeps a root with quotes, spaces and $ as one literal path', () => {
    assert.ok(splitProbeOutput(busybox, roots).has('/proc/stat'));
    assert.ok(!existsSync(join(dir, 'pwned')) && !existsSync(join(dir, 'pwned2')), 'no command substitution ran');
  });

  it('reads only: the programs it runs are head, df, timeout and sleep (and vcgencmd on a Pi without the sysfs word); the rest are shell builtins', () => {
    // The default roots: the test root's quotes and parentheses would split the words.
    const words = probeCommand(METRIC_KINDS, undefined, { nonce, dfTimeoutSeconds: 1, boundDf: true })
      .replace(/\d?>(&\d|\/dev\/null)/g, '')
      .split(/[;|&()]|\bthen\b|\belse\b/)
      .map((part) => part.trim().split(/\s+/)[0])
      .filter((w) => w !== '' && w !== undefined);
    // Assignments (the roots; the sys files found, kept by a long-lived shell, and its probe count), keywords and builtins.
    const shell = /^((P|G|r|edgefleet_[ng]_[0-9a-f]{12})=.*|[hrdw]=\$[?!]|\$\{edgefleet_n_[0-9a-f]{12}:-0\}|for|do|done|case|\*|esac|continue|eval|export)$/;
    for (const w of words) assert.ok(shell.test(w!) || /^(head|printf|if|fi|command|exec|timeout|df|sleep|kill|wait|exit|nvidia-smi|\[|set|"\$V")$/.test(w!), `unexpected command ${w}`);
  });

  for (const [label, path] of [
    ['coreutils timeout', bin],
    ['the shell watchdog (no timeout)', bare],
  ] as const) {
    it(`a hung df is killed after its bound by ${label}: the other files arrive, df's status says killed, no df left`, () => {
      // A df that never answers (as statfs on a dead NFS server): exec, so the killed pid is the sleeper.
      const hung = join(dir, `hung-${label.length}`);
      mkdirSync(hung);
      for (const f of ['head', 'sleep']) symlinkSync(BUSYBOX, join(hung, f));
      // coreutils': busybox's timeout runs its own df applet whatever PATH says.
      if (path === bin) symlinkSync('/usr/bin/timeout', join(hung, 'timeout'));
      // Under dash: busybox's sh would run its own df applet whatever PATH says.
      const seconds0 = 1000 + label.length;
      const tag = `sleep\0${seconds0}\0`;
      writeFileSync(join(hung, 'df'), `#!/bin/sh\nexec sleep ${seconds0}\n`, { mode: 0o755 });
      const t0 = performance.now();
      const run = spawnSync('/bin/sh', ['-c', command], { env: { PATH: hung }, encoding: 'utf8' });
      const out = probeEnd(run.stdout, nonce, run.status);
      const seconds = (performance.now() - t0) / 1000;
      // The shell's watchdog: 137; coreutils' timeout -s KILL kills itself too: a signal (null).
      assert.ok(out.exitCode === DF_KILLED_RC || out.exitCode === null, `exit ${out.exitCode}`);
      assert.ok(seconds >= 0.9 && seconds < 3, `took ${seconds.toFixed(2)} s with a 1 s bound`);
      const files = splitProbeOutput(out.body, roots);
      assert.ok(files.get('/proc/stat')?.startsWith('cpu '), 'cpu still arrives');
      assert.equal(files.get(DF_SECTION), '');
      assert.deepEqual(processesWith(tag), [], 'no df left running');
    });
  }
});

