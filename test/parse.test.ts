/**
 * Parser tests, Telegraf-style: the test walks fixture folders, so a new machine or edge case
 * is new files, not new code.
 *
 * - test/fixtures/machines/<name>/: a fake root (proc/, sys/, proc1/ = the same node 10 s later,
 *   storage/{df-Pk.txt,mounts}) and expected.json. The real probe from shared/collect/probes.ts
 *   runs over it with /bin/sh, as on a node, and splitProbeOutput + the parsers must give the
 *   expected values. Storage cannot be moved by the probe's roots (df asks the live kernel), so
 *   its two sections are appended to the probe's output exactly as head and the probe print them.
 * - test/fixtures/parse/<case>/: case.json names the parser; inputs beside it; expected.json,
 *   or expected.error.txt holding text the ParseError's message must contain.
 *
 * Expected values come from node_exporter's e2e-output.txt or were worked out by hand / with a
 * small independent script (see test/fixtures/machines/SOURCE.md), never from these parsers.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { CpuSample } from '../shared/domain/index.js';
import { newProbeNonce, probeCommand, type ProbeRoots } from '../shared/collect/probes.js';
import {
  ParseError,
  cpuUsage,
  netRates,
  parseLoadavg,
  parseMeminfo,
  parseMounts,
  parseNetDev,
  parseProcStat,
  parseStorage,
  parseTemperatures,
  probeEnd,
  splitProbeOutput,
  type StorageOptions,
} from '../shared/parse/index.js';

const here = dirname(fileURLToPath(import.meta.url));
const MACHINES = join(here, 'fixtures', 'machines');
const CASES = join(here, 'fixtures', 'parse');

// ---------------------------------------------------------------- helpers

/** Deep equality where numbers may differ by float rounding, and keys must match exactly (absent ≠ undefined ≠ 0). */
function assertClose(actual: unknown, expected: unknown, path = '$'): void {
  if (typeof expected === 'number') {
    assert.equal(typeof actual, 'number', `${path}: expected a number, got ${JSON.stringify(actual)}`);
    const a = actual as number;
    const tolerance = 1e-9 * Math.max(1, Math.abs(a), Math.abs(expected));
    assert.ok(Math.abs(a - expected) <= tolerance, `${path}: ${a} != ${expected}`);
    return;
  }
  if (Array.isArray(expected)) {
    assert.ok(Array.isArray(actual), `${path}: expected an array`);
    assert.equal(actual.length, expected.length, `${path}: length ${actual.length} != ${expected.length}: ${JSON.stringify(actual)}`);
    expected.forEach((e, i) => assertClose(actual[i], e, `${path}[${i}]`));
    return;
  }
  if (expected !== null && typeof expected === 'object') {
    assert.ok(actual !== null && typeof actual === 'object', `${path}: expected an object`);
    const ak = Object.keys(actual).sort();
    const ek = Object.keys(expected).sort();
    assert.deepEqual(ak, ek, `${path}: keys differ`);
    for (const k of ek) assertClose((actual as Record<string, unknown>)[k], (expected as Record<string, unknown>)[k], `${path}.${k}`);
    return;
  }
  assert.deepEqual(actual, expected, path);
}

function assertParseError(fn: () => unknown, contains: string): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof ParseError, `expected a ParseError, got ${String(e)}`);
    assert.ok(e.message.includes(contains), `message ${JSON.stringify(e.message)} lacks ${JSON.stringify(contains)}`);
    assert.ok(e.file.length > 0);
    return true;
  });
}

const read = (...p: string[]) => readFileSync(join(...p), 'utf8');
const maybeRead = (...p: string[]) => (existsSync(join(...p)) ? read(...p) : undefined);
const readJson = (...p: string[]): unknown => JSON.parse(read(...p));

/** Run the real probe over a fake root with /bin/sh, as a node would; the output before its end marker. */
function runProbe(kinds: Parameters<typeof probeCommand>[0], roots: ProbeRoots): string {
  const nonce = newProbeNonce();
  return probeEnd(execFileSync('/bin/sh', ['-c', probeCommand(kinds, roots, { nonce, dfTimeoutSeconds: 3 })], { encoding: 'utf8' }), nonce, 0).body;
}

/** Every file under `dir` (following symlinks, like the probe's globs), keyed by `prefix` + relative path. */
function filesUnder(dir: string, prefix: string, into = new Map<string, string>()): Map<string, string> {
  for (const name of readdirSync(dir).sort()) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) filesUnder(p, `${prefix}/${name}`, into);
    else into.set(`${prefix}/${name}`, readFileSync(p, 'utf8'));
  }
  return into;
}

function withLoad(files: Map<string, string>): CpuSample {
  const stat = files.get('/proc/stat');
  assert.ok(stat !== undefined, 'probe output has no /proc/stat');
  const sample: CpuSample = parseProcStat(stat);
  const loadavg = files.get('/proc/loadavg');
  return loadavg === undefined ? sample : { ...sample, ...parseLoadavg(loadavg) };
}

// ---------------------------------------------------------------- machines

interface MachineExpected {
  cpu?: unknown;
  load?: unknown;
  memory?: unknown;
  temperature?: { readings: unknown[]; errors: string[] };
  network?: unknown;
  storage?: unknown;
  cpuUsage?: unknown;
  netRates?: { intervalSeconds: number; rates: unknown; resets: unknown; wraps: unknown };
  rejected?: Partial<Record<'cpu' | 'load' | 'memory' | 'network' | 'storage', string>>;
}

const machines = readdirSync(MACHINES).filter((m) => existsSync(join(MACHINES, m, 'expected.json'))).sort();

describe('machines: probe over a fake root, then splitProbeOutput and the parsers', () => {
  it('has the machines the fleet runs', () => {
    for (const m of ['x86-node-exporter', 'x86-procfs', 'x86-hub', 'rpi4', 'jetson-orin', 'garbage']) assert.ok(machines.includes(m), m);
  });

  for (const machine of machines) {
    describe(machine, () => {
      const root = join(MACHINES, machine);
      const expected = readJson(root, 'expected.json') as MachineExpected;
      const roots: ProbeRoots = { procRoot: join(root, 'proc'), sysRoot: join(root, 'sys') };
      let output = runProbe(['temperature', 'cpu', 'memory', 'network'], roots);
      const mounts = maybeRead(root, 'storage', 'mounts');
      const df = maybeRead(root, 'storage', 'df-Pk.txt');
      if (mounts !== undefined && df !== undefined) {
        // head's separator + header, then the probe's `printf '\n==> df -Pk <==\n'; df -Pk`
        output += `\n==> /proc/self/mounts <==\n${mounts}\n==> df -Pk <==\n${df}`;
      }
      const files = splitProbeOutput(output, roots);
      const hasSecond = existsSync(join(root, 'proc1'));
      const files1 = hasSecond ? splitProbeOutput(runProbe(['cpu', 'network'], { ...roots, procRoot: join(root, 'proc1') }), { ...roots, procRoot: join(root, 'proc1') }) : undefined;

      it('probe output holds exactly the files the fixture has', () => {
        assert.equal(files.has('/proc/stat'), expected.cpu !== undefined || expected.rejected?.cpu !== undefined);
        assert.equal(files.has('/proc/meminfo'), expected.memory !== undefined || expected.rejected?.memory !== undefined);
        assert.equal(files.has('/proc/net/dev'), expected.network !== undefined || expected.rejected?.network !== undefined);
        for (const key of files.keys()) assert.ok(key.startsWith('/proc/') || key.startsWith('/sys/') || key === 'df -Pk', key);
      });

      if (expected.cpu !== undefined) it('cpu: /proc/stat + /proc/loadavg', () => assertClose(withLoad(files), expected.cpu));
      if (expected.load !== undefined) it('loadavg', () => assertClose(parseLoadavg(files.get('/proc/loadavg')!), expected.load));
      if (expected.memory !== undefined) it('memory: /proc/meminfo', () => assertClose(parseMeminfo(files.get('/proc/meminfo')!), expected.memory));
      if (expected.network !== undefined) it('network: /proc/net/dev', () => assertClose(parseNetDev(files.get('/proc/net/dev')!), expected.network));
      if (expected.storage !== undefined) {
        it('storage: df -Pk joined with /proc/self/mounts', () =>
          assertClose(parseStorage(files.get('df -Pk')!, files.get('/proc/self/mounts')!), expected.storage));
      }
      if (expected.temperature !== undefined) {
        it('temperature: thermal zones and hwmon', () => {
          const t = parseTemperatures(files);
          assertClose(t.readings, expected.temperature!.readings);
          assert.deepEqual(t.errors, expected.temperature!.errors);
        });
      }
      if (expected.cpuUsage !== undefined) {
        it('cpu usage over the 10 s to proc1/stat', () => {
          assert.ok(files1 !== undefined);
          assertClose(cpuUsage(withLoad(files), withLoad(files1)), expected.cpuUsage);
        });
      }
      if (expected.netRates !== undefined) {
        it('network rates over the 10 s to proc1/net/dev', () => {
          assert.ok(files1 !== undefined);
          const { intervalSeconds, ...want } = expected.netRates!;
          assertClose(netRates(parseNetDev(files.get('/proc/net/dev')!), parseNetDev(files1.get('/proc/net/dev')!), intervalSeconds), want);
        });
      }
      const rejected = expected.rejected ?? {};
      const reject: Record<keyof typeof rejected, () => unknown> = {
        cpu: () => parseProcStat(files.get('/proc/stat') ?? ''),
        load: () => parseLoadavg(files.get('/proc/loadavg') ?? ''),
        memory: () => parseMeminfo(files.get('/proc/meminfo') ?? ''),
        network: () => parseNetDev(files.get('/proc/net/dev') ?? ''),
        storage: () => parseStorage(files.get('df -Pk') ?? '', files.get('/proc/self/mounts') ?? ''),
      };
      for (const [kind, message] of Object.entries(rejected) as [keyof typeof reject, string][]) {
        it(`rejects garbage: ${kind}`, () => assertParseError(reject[kind], message));
      }
    });
  }
});

// ---------------------------------------------------------------- edge cases

interface CaseSpec {
  parser: string;
  description: string;
  intervalSeconds?: number;
  options?: { excludeFsTypes?: string; excludeMountPoints?: string };
}

const RUNNERS: Record<string, (dir: string, spec: CaseSpec) => unknown> = {
  procStat: (dir) => parseProcStat(read(dir, 'stat')),
  loadavg: (dir) => parseLoadavg(read(dir, 'loadavg')),
  meminfo: (dir) => parseMeminfo(read(dir, 'meminfo')),
  netDev: (dir) => parseNetDev(read(dir, 'net_dev')),
  mounts: (dir) => parseMounts(read(dir, 'mounts')),
  storage: (dir, spec) => {
    const opts: StorageOptions = {};
    if (spec.options?.excludeFsTypes !== undefined) opts.excludeFsTypes = new RegExp(spec.options.excludeFsTypes);
    if (spec.options?.excludeMountPoints !== undefined) opts.excludeMountPoints = new RegExp(spec.options.excludeMountPoints);
    return parseStorage(read(dir, 'df-Pk.txt'), read(dir, 'mounts'), opts);
  },
  thermal: (dir) => {
    const t = parseTemperatures(filesUnder(join(dir, 'sys'), '/sys'));
    return { readings: t.readings, errors: [...t.errors].sort() };
  },
  cpuUsage: (dir) => {
    const prev = maybeRead(dir, 'proc0', 'stat');
    return cpuUsage(prev === undefined ? undefined : parseProcStat(prev), parseProcStat(read(dir, 'proc1', 'stat')));
  },
  netRates: (dir, spec) => {
    const prev = maybeRead(dir, 'proc0', 'net', 'dev');
    assert.ok(spec.intervalSeconds !== undefined, 'case.json needs intervalSeconds');
    return netRates(prev === undefined ? undefined : parseNetDev(prev), parseNetDev(read(dir, 'proc1', 'net', 'dev')), spec.intervalSeconds);
  },
};

describe('edge cases (test/fixtures/parse)', () => {
  for (const name of readdirSync(CASES).sort()) {
    const dir = join(CASES, name);
    const spec = readJson(dir, 'case.json') as CaseSpec;
    it(`${name}: ${spec.description}`, () => {
      const run = RUNNERS[spec.parser];
      assert.ok(run, `unknown parser ${spec.parser} in ${name}/case.json`);
      const error = maybeRead(dir, 'expected.error.txt');
      if (error !== undefined) {
        assert.ok(!existsSync(join(dir, 'expected.json')), 'a case expects a result or an error, not both');
        assertParseError(() => run(dir, spec), error.replace(/\n$/, ''));
      } else {
        const want = readJson(dir, 'expected.json') as Record<string, unknown>;
        if (spec.parser === 'thermal') (want.errors as string[]).sort();
        assertClose(run(dir, spec), want);
      }
    });
  }
});

// ---------------------------------------------------------------- small tables

describe('ParseError', () => {
  it('carries file, line, quoted text and cause', () => {
    const cause = new Error('inner');
    const e = new ParseError('/proc/stat', 'bad', { line: 3, text: 'x\ty', cause });
    assert.equal(e.message, '/proc/stat:3: bad: "x\\ty"');
    assert.equal(e.file, '/proc/stat');
    assert.equal(e.line, 3);
    assert.equal(e.cause, cause);
    assert.ok(e instanceof Error);
  });
  it('cuts very long bad text', () => {
    const e = new ParseError('df -Pk', 'bad', { text: 'a'.repeat(1000) });
    assert.ok(e.message.length < 200);
  });
});

describe('netRates arguments', () => {
  for (const bad of [0, -1, Number.NaN, Number.POSITIVE_INFINITY]) {
    it(`refuses intervalSeconds ${bad}`, () => assert.throws(() => netRates([], [], bad), RangeError));
  }
  it('first sample: no rates', () => assert.deepEqual(netRates(undefined, [], 10), { rates: [], resets: [], wraps: [] }));
});

describe('probe output round trip', () => {
  it('a file without a final newline and an empty file survive splitting', () => {
    const roots: ProbeRoots = { procRoot: '/proc', sysRoot: '/sys' };
    const text = '==> /dev/null <==\n\n==> /sys/a <==\n12\n\n==> /sys/b <==\n==> /sys/c <==\n7\n';
    const files = splitProbeOutput(text, roots);
    assert.deepEqual([...files], [['/sys/a', '12\n'], ['/sys/b', ''], ['/sys/c', '7\n']]);
  });
});
