/**
 * The probe as nodes run it: under busybox's sh with busybox's own head and df (a Raspberry
 * Pi or Jetson image with nothing else), it must print what GNU coreutils under dash prints,
 * so the parsers see the same files. Quoting: a root with shell metacharacters stays a path.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, symlinkSync, existsSync, mkdirSync, cpSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { METRIC_KINDS } from '../shared/domain/index.js';
import { probeCommand, DF_SECTION } from '../shared/collect/probes.js';
import { parseMeminfo, parseProcStat, parseTemperatures, splitProbeOutput } from '../shared/parse/index.js';

const BUSYBOX = '/bin/busybox';
const MACHINES = join(import.meta.dirname, 'fixtures', 'machines');
const dir = mkdtempSync(join(tmpdir(), 'edgefleet-probe-'));
after(() => rmSync(dir, { recursive: true, force: true }));

describe('probe', { skip: !existsSync(BUSYBOX) && 'busybox is not installed (apt-get install busybox)' }, () => {
  // A PATH holding only busybox applets: nothing from coreutils can sneak in.
  const bin = join(dir, 'bin');
  mkdirSync(bin);
  for (const applet of ['sh', 'head', 'df', 'echo', 'true']) symlinkSync(BUSYBOX, join(bin, applet));
  const root = join(dir, "jet $(touch pwned) `touch pwned2` 'o'");
  cpSync(join(MACHINES, 'jetson-orin'), root, { recursive: true, verbatimSymlinks: true });
  const roots = { procRoot: join(root, 'proc'), sysRoot: join(root, 'sys') };
  const command = probeCommand(METRIC_KINDS, roots);

  const runWith = (shell: string, env: NodeJS.ProcessEnv) => execFileSync(shell, ['-c', command], { env, cwd: dir, encoding: 'utf8' });
  const busybox = runWith(join(bin, 'sh'), { PATH: bin });
  const gnu = runWith('/bin/sh', { PATH: '/usr/bin:/bin' });

  it('prints every file under busybox as under GNU coreutils', () => {
    const a = splitProbeOutput(busybox, roots);
    const b = splitProbeOutput(gnu, roots);
    for (const [path, text] of b) {
      // df and the mount table are the live system's, read a moment apart.
      if (path === DF_SECTION || path === '/proc/self/mounts') continue;
      assert.equal(a.get(path), text, path);
    }
    assert.ok(a.has(DF_SECTION), 'busybox df ran');
    assert.deepEqual(parseProcStat(a.get('/proc/stat')!), parseProcStat(b.get('/proc/stat')!));
    assert.deepEqual(parseMeminfo(a.get('/proc/meminfo')!), parseMeminfo(b.get('/proc/meminfo')!));
    assert.ok(parseTemperatures(a).readings.length > 0);
  });

  it('keeps a root with quotes, spaces and $ as one literal path', () => {
    assert.ok(splitProbeOutput(busybox, roots).has('/proc/stat'));
    assert.ok(!existsSync(join(dir, 'pwned')) && !existsSync(join(dir, 'pwned2')), 'no command substitution ran');
  });

  it('reads only: the probe is head, df and echo', () => {
    const words = command.split(/[;|&]/).map((part) => part.trim().split(/\s+/)[0]);
    for (const w of words) assert.ok(/^(P=.*|head|echo|exec|true)$/.test(w!), `unexpected command ${w}`);
  });
});
