/**
 * The kinds of issue 18 that node_exporter has and a lab needs — diskio (/proc/diskstats),
 * pressure (/proc/pressure/*), network link state (/sys/class/net), meminfo's NvMapMemUsed,
 * inodes (`df -Pi`) — and NVIDIA GPUs through nvidia-smi. The real probe runs over the fixture
 * roots with /bin/sh, then splitProbeOutput and each kind's collector, two rounds 10 s apart.
 * Expected values: test/fixtures/machines/<m>/expected-io.json, written by
 * tools/expected_io.py (plain Python over the fixture files, checked against node_exporter's
 * e2e-output.txt), and test/fixtures/nvidia-smi/expected.json (by hand).
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { COLLECTORS, type KindOutput } from '../shared/collect/kinds/index.js';
import { inodesDue } from '../shared/collect/kinds/inodes.js';
import { probeCommand, type ProbeRoots } from '../shared/collect/probes.js';
import type { MetricKind } from '../shared/domain/index.js';
import { ParseError, parseDfInodes, parseDiskstats, parseNetClass, parseNvidiaSmi, parsePressure, probeEnd, splitProbeOutput } from '../shared/parse/index.js';

const MACHINES = join(import.meta.dirname, 'fixtures', 'machines');
const NVIDIA = join(import.meta.dirname, 'fixtures', 'nvidia-smi');
const NONCE = '00112233aabbccdd';
const dir = mkdtempSync(join(tmpdir(), 'edgefleet-io-'));
after(() => rmSync(dir, { recursive: true, force: true }));

type Json = Record<string, any>;
const json = (...p: string[]): Json => JSON.parse(readFileSync(join(...p), 'utf8'));

/** Numbers equal to 1e-9 relative; objects must have exactly the expected keys (absent ≠ 0). */
function close(actual: unknown, expected: unknown, path = '$'): void {
  if (typeof expected === 'number') {
    assert.equal(typeof actual, 'number', `${path}: ${JSON.stringify(actual)} is not a number`);
    assert.ok(Math.abs((actual as number) - expected) <= 1e-9 * Math.max(1, Math.abs(expected)), `${path}: ${actual} != ${expected}`);
  } else if (Array.isArray(expected)) {
    assert.ok(Array.isArray(actual), `${path}: not an array`);
    assert.equal(actual.length, expected.length, `${path}: ${JSON.stringify(actual)}`);
    expected.forEach((e, i) => close(actual[i], e, `${path}[${i}]`));
  } else if (expected !== null && typeof expected === 'object') {
    assert.deepEqual(Object.keys(actual as object).sort(), Object.keys(expected).sort(), `${path}: keys`);
    for (const [k, v] of Object.entries(expected)) close((actual as Json)[k], v, `${path}.${k}`);
  } else assert.deepEqual(actual, expected, path);
}

/** The probe over a root, as a node runs it, split into files. */
function probe(kinds: MetricKind[], roots: ProbeRoots, env: NodeJS.ProcessEnv = { PATH: '/usr/bin:/bin' }, dfTimeoutSeconds = 1): Map<string, string> {
  const r = spawnSync('/bin/sh', ['-c', probeCommand(kinds, roots, { nonce: NONCE, dfTimeoutSeconds })], { env, encoding: 'utf8' });
  return splitProbeOutput(probeEnd(r.stdout, NONCE, r.status).body, roots);
}

/** Two rounds 10 s apart (hub clock: the roots have no uptime), the second from proc1/. */
function twoRounds(kind: MetricKind, machine: string): [KindOutput, KindOutput] {
  const root = join(MACHINES, machine);
  const sys = join(root, 'sys');
  const files0 = probe([kind], { procRoot: join(root, 'proc'), sysRoot: sys });
  const files1 = probe([kind], { procRoot: join(root, 'proc1'), sysRoot: sys });
  const c = COLLECTORS[kind];
  const out0 = c.collect({ files: files0, nowMs: 1_000_000, filters: {} });
  // Through JSON, as counter_state keeps it.
  const prev = out0.counters === undefined ? undefined : { timeMs: 1_000_000, sample: JSON.parse(JSON.stringify(out0.counters)) };
  const out1 = c.collect({ files: files1, nowMs: 1_010_000, filters: {}, prev });
  return [out0, out1];
}

describe('diskio, pressure, link state over the machines', () => {
  for (const machine of ['x86-node-exporter', 'jetson-orin', 'rpi4']) {
    const want = json(MACHINES, machine, 'expected-io.json');
    it(`${machine}: disk counters of whole disks, and bytes/s, IOPS, utilization over 10 s`, () => {
      const [r0, r1] = twoRounds('diskio', machine);
      close(r0.readings.diskio!.counters, want.diskio.counters);
      assert.equal(r0.readings.diskio!.rates.size, 0, 'the first round has no rate');
      close([...r1.readings.diskio!.rates.values()].map(({ intervalSeconds, ...r }) => (assert.equal(intervalSeconds, 10), r)), want.diskio.rates);
    });
    it(`${machine}: pressure stall information, percent stalled from the totals`, () => {
      const [r0, r1] = twoRounds('pressure', machine);
      if (want.pressure.length === 0) {
        assert.deepEqual(r0, { readings: {}, rows: 0, notes: [] }, 'no PSI: no data, no error');
        return;
      }
      close(r0.readings.pressure!.map((p) => ({ ...p })), want.pressure);
      close(r1.readings.pressure!.map((p) => ({ resource: p.resource, somePercent: p.somePercent, ...(p.fullPercent === undefined ? {} : { fullPercent: p.fullPercent }) })), want.pressurePercent);
    });
    it(`${machine}: link state, carrier and speed; -1 and unreadable are unknown, not 0`, () => {
      const root = join(MACHINES, machine);
      const links = parseNetClass(probe(['network'], { procRoot: join(root, 'proc'), sysRoot: join(root, 'sys') }));
      close(Object.fromEntries([...links].map(([k, { iface: _, ...v }]) => [k, v])), want.links);
    });
  }

  it('reads NvMapMemUsed on a Jetson, and leaves it absent elsewhere', () => {
    const mem = (m: string) => COLLECTORS.memory.collect({ files: probe(['memory'], { procRoot: join(MACHINES, m, 'proc'), sysRoot: '/nonexistent' }), nowMs: 0, filters: {} }).readings.memory!;
    assert.equal(mem('jetson-orin').nvMapMemUsedBytes, json(MACHINES, 'jetson-orin', 'expected.json').memory.nvMapMemUsedBytes);
    assert.equal('nvMapMemUsedBytes' in mem('rpi4'), false);
  });

  it('rejects what is not the kernel file, with the file and the bad text', () => {
    assert.throws(() => parseDiskstats('Filesystem 1K-blocks Used\n'), (e: Error) => e instanceof ParseError && /\/proc\/diskstats:1: 3 fields/.test(e.message));
    assert.throws(() => parseDiskstats('   8  0 sda 1 2 x 4 5 6 7 8 9 10 11\n'), /sectors read/);
    assert.throws(() => parsePressure('io', 'some 0.18 0.34\n'), (e: Error) => e instanceof ParseError && /\/proc\/pressure\/io:1/.test(e.message));
    assert.throws(() => parsePressure('cpu', 'full avg10=0.00 avg60=0.00 avg300=0.00 total=0\n'), /no "some" line/);
    assert.throws(() => parseNetClass(new Map([['/sys/class/net/eth0/operstate', 'UP!\n']])), /operstate/);
  });
});

describe('inodes: df -Pi joined with the mount table', () => {
  for (const [machine, file] of [['x86-hub', 'df-Pi.txt'], ['x86-hub', 'df-Pi.busybox.txt'], ['jetson-orin', 'df-Pi.txt']] as const) {
    it(`${machine} ${file}: real mounts only, filesystems without inodes (vfat) left out`, () => {
      const s = join(MACHINES, machine, 'storage');
      close(parseDfInodes(readFileSync(join(s, file), 'utf8'), readFileSync(join(s, 'mounts'), 'utf8')), json(MACHINES, machine, 'expected-io.json').inodes[file]);
    });
  }
  it('is read once a minute per node: the probe leaves df -Pi out when it is not due, and the kind stores nothing then', () => {
    const t = 1_000_000_000;
    assert.equal(inodesDue(undefined, t), true, 'never read');
    assert.equal(inodesDue({ timeMs: t, sample: { sampledMs: t } }, t + 30_000), false);
    assert.equal(inodesDue({ timeMs: t, sample: { sampledMs: t } }, t + 60_000), true);
    const roots = { procRoot: '/proc', sysRoot: '/sys' };
    assert.doesNotMatch(probeCommand(['inodes', 'cpu'], roots, { nonce: NONCE, dfTimeoutSeconds: 1, inodes: false }), /\bdf\b/);
    assert.match(probeCommand(['inodes', 'storage'], roots, { nonce: NONCE, dfTimeoutSeconds: 1, inodes: false }), /exec df -Pk/);
    assert.doesNotMatch(probeCommand(['inodes', 'storage'], roots, { nonce: NONCE, dfTimeoutSeconds: 1, inodes: false }), /df -Pi/);
    const df = { exitStatus: 0, timedOut: false, bounded: false, boundSeconds: 1, commandTimeoutSeconds: 10, inodes: false };
    assert.deepEqual(COLLECTORS.inodes.collect({ files: new Map(), nowMs: t, filters: {}, df }), { readings: {}, rows: 0, notes: [] });
  });

  it('refuses df -Pk output in place of df -Pi', () => {
    const s = join(MACHINES, 'x86-hub', 'storage');
    assert.throws(() => parseDfInodes(readFileSync(join(s, 'df-Pk.txt'), 'utf8'), readFileSync(join(s, 'mounts'), 'utf8')), /df -Pi:1: no "Filesystem Inodes/);
  });
});

describe('nvidia: nvidia-smi CSV', () => {
  const want = json(NVIDIA, 'expected.json');
  for (const file of ['two-gpus.csv', 'na-fields.csv', 'gpu-lost.txt', 'no-driver.txt']) {
    it(`${file}: [N/A] and [Not Supported] are absent, never 0; error lines kept apart`, () => close(parseNvidiaSmi(readFileSync(join(NVIDIA, file), 'utf8')), want[file]));
  }

  /** A fake nvidia-smi printing a fixture with an exit status, alone on PATH with the shell's tools. */
  function fakeBin(name: string, script: string): string {
    const bin = join(dir, name);
    mkdirSync(bin);
    writeFileSync(join(bin, 'nvidia-smi'), `#!/bin/sh\n${script}\n`);
    chmodSync(join(bin, 'nvidia-smi'), 0o755);
    return `${bin}:/usr/bin:/bin`;
  }
  const roots = { procRoot: join(MACHINES, 'x86-hub', 'proc'), sysRoot: '/nonexistent' };
  const collect = (path: string) => COLLECTORS.nvidia.collect({ files: probe(['nvidia', 'cpu'], roots, { PATH: path }), nowMs: 0, filters: {} });

  it('no nvidia-smi on the node: no section, no data, no error', () => {
    const files = probe(['nvidia', 'cpu'], roots, { PATH: '/usr/bin:/bin' });
    assert.ok(files.has('/proc/stat'));
    assert.deepEqual(COLLECTORS.nvidia.collect({ files, nowMs: 0, filters: {} }), { readings: {}, rows: 0, notes: [] });
  });

  it('the probe runs nvidia-smi with the documented query and keeps its GPUs', () => {
    const log = join(dir, 'args.txt');
    const out = collect(fakeBin('ok', `echo "$@" > ${log}; cat ${join(NVIDIA, 'two-gpus.csv')}`));
    assert.equal(readFileSync(log, 'utf8').trim(), '--query-gpu=index,uuid,name,utilization.gpu,utilization.memory,memory.used,memory.total,temperature.gpu,power.draw,power.limit,clocks.sm,clocks.mem,clocks_throttle_reasons.active --format=csv,noheader,nounits');
    assert.equal(out.error, undefined);
    close(out.readings.nvidia, want['two-gpus.csv'].gpus);
  });

  it('a GPU fallen off the bus: the kind fails with nvidia-smi\'s words, the other GPU is kept', () => {
    const out = collect(fakeBin('lost', `cat ${join(NVIDIA, 'gpu-lost.txt')}; exit 15`));
    assert.match(out.error!, /status 15: Unable to determine the device handle for GPU0000:41:00\.0: GPU is lost/);
    close(out.readings.nvidia, want['gpu-lost.txt'].gpus);
  });

  it('a hanging nvidia-smi is killed after its bound; the probe\'s files still arrive', () => {
    const t0 = performance.now();
    const files = probe(['nvidia', 'cpu'], roots, { PATH: fakeBin('hang', 'exec sleep 30') }, 1);
    const seconds = (performance.now() - t0) / 1000;
    assert.ok(seconds < 3, `took ${seconds.toFixed(1)} s with a 1 s bound`);
    assert.ok(files.get('/proc/stat')?.startsWith('cpu '), 'cpu still arrives');
    assert.match(COLLECTORS.nvidia.collect({ files, nowMs: 0, filters: {} }).error!, /did not answer in time/);
  });
});
