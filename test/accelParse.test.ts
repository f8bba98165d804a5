/**
 * Issue 18's parsers on small hand-written inputs (the edge cases the fixture roots do not
 * have), the probe's vcgencmd fallback run by /bin/sh as on a node, and energy per inference on a
 * hand-worked case. Every expected value is worked out in the comment beside it.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { probeCommand, VCGENCMD_SECTION } from '../shared/collect/probes.js';
import { COLLECTORS } from '../shared/collect/kinds/index.js';
import { parseCpuClocks, parseGetThrottled, parseIna3221, parseRapl, parseTegraGpu, powerTotal, probeEnd, raplRails, rpiThrottledFrom, splitProbeOutput } from '../shared/parse/index.js';
import { trapezoidJoules } from '../shared/store/energy.js';
import { inferenceStats } from '../shared/collect/inferenceStats.js';
import { inferenceStore, lineKey, migrate, openDb, syncNodes } from '../shared/store/index.js';

const files = (o: Record<string, string>) => new Map(Object.entries(o));
const dir = mkdtempSync(join(tmpdir(), 'edgefleet-accel-parse-'));
after(() => rmSync(dir, { recursive: true, force: true }));

describe('Tegra GPU', () => {
  it('takes the GPU by its name when there is no of_node, and ignores other devfreq devices', () => {
    const r = parseTegraGpu(files({
      '/sys/class/devfreq/gpu.0/cur_freq': '76800000\n',
      '/sys/class/devfreq/15340000.vic/cur_freq': '115200000\n',
      '/sys/class/devfreq/15340000.vic/device/of_node/name': 'vic\0',
      '/sys/class/devfreq/15340000.vic/device/load': '12\n',
    }));
    assert.deepEqual(r.gpus, [{ device: 'gpu.0', curFreqHertz: 76800000 }]);
  });
  it('a node without a GPU has no readings and no errors', () => {
    assert.deepEqual(parseTegraGpu(files({ '/sys/class/thermal/thermal_zone0/temp': '40000\n' })), { gpus: [], errors: [] });
  });
  it('skips a bad load or frequency with a message, keeps the rest; EMC from an EMC devfreq device', () => {
    const r = parseTegraGpu(files({
      '/sys/class/devfreq/17000000.gv11b/cur_freq': 'N/A\n',
      '/sys/class/devfreq/17000000.gv11b/max_freq': '1377000000\n',
      '/sys/class/devfreq/17000000.gv11b/device/load': '1200\n',
      '/sys/class/devfreq/2c60000.external-memory-controller/cur_freq': '2133000000\n',
    }));
    assert.deepEqual(r.gpus, [{ device: '17000000.gv11b', maxFreqHertz: 1377000000, emcFreqHertz: 2133000000 }]);
    assert.equal(r.errors.length, 2);
    assert.match(r.errors.join('\n'), /cur_freq: not a frequency in Hz: "N\/A"/);
    assert.match(r.errors.join('\n'), /load: a load over 1000 per mille: "1200"/);
  });
  it('names an nvpmodel mode that nvpmodel.conf lacks by its number', () => {
    const r = parseTegraGpu(files({ '/sys/class/devfreq/17000000.ga10b/cur_freq': '1\n', '/var/lib/nvpmodel/status': 'pmode:0003 fmode:quiet\n' }));
    assert.equal(r.gpus[0]!.powerMode, 'mode 3');
    assert.equal(r.gpus[0]!.powerModeId, 3);
  });
});

describe('power rails and RAPL', () => {
  it('iio rails without in_power: V × A (5.0 V × 0.8 A = 4 W); no input rail: the total is the sum (4 + 2.5)', () => {
    const b = '/sys/bus/i2c/drivers/ina3221x/1-0040/iio:device0';
    const { rails } = parseIna3221(files({
      [`${b}/rail_name_0`]: 'GPU\n', [`${b}/in_voltage0_input`]: '5000\n', [`${b}/in_current0_input`]: '800\n',
      [`${b}/rail_name_1`]: 'CPU\n', [`${b}/in_voltage1_input`]: '5000\n', [`${b}/in_current1_input`]: '500\n',
    }));
    assert.deepEqual(rails.map((r) => [r.rail, r.watts]), [['GPU', 4], ['CPU', 2.5]]);
    assert.deepEqual(powerTotal(rails), { totalWatts: 6.5, totalOf: 'sum' });
  });
  it('two chips labelling a rail alike keep both, the second named by its sensor; hwmon chips other than ina3221 are not rails', () => {
    const { rails } = parseIna3221(files({
      '/sys/class/hwmon/hwmon1/name': 'ina3221\n', '/sys/class/hwmon/hwmon1/in1_label': 'GPU\n', '/sys/class/hwmon/hwmon1/in1_input': '1000\n', '/sys/class/hwmon/hwmon1/curr1_input': '1000\n',
      '/sys/class/hwmon/hwmon2/name': 'ina3221\n', '/sys/class/hwmon/hwmon2/in1_label': 'GPU\n', '/sys/class/hwmon/hwmon2/in1_input': '2000\n', '/sys/class/hwmon/hwmon2/curr1_input': '1000\n',
      '/sys/class/hwmon/hwmon3/name': 'nct6779\n', '/sys/class/hwmon/hwmon3/in1_label': 'Vcore\n', '/sys/class/hwmon/hwmon3/in1_input': '1024\n',
    }));
    assert.deepEqual(rails.map((r) => [r.rail, r.watts]), [['GPU', 1], ['GPU (hwmon2/in1)', 2]]);
  });
  it('a RAPL counter that wraps at max_energy_range_uj is counted through: (range − prev + cur) / 10 s', () => {
    const range = 262143328850;
    const prev = [{ zone: 'intel-rapl:0', rail: 'package-0', energyMicrojoules: range - 1_000_000, maxEnergyRangeMicrojoules: range }];
    const cur = [{ zone: 'intel-rapl:0', rail: 'package-0', energyMicrojoules: 4_000_000, maxEnergyRangeMicrojoules: range }];
    const r = raplRails(prev, cur, 10);
    // 1,000,000 + 4,000,000 µJ = 5 J in 10 s = 0.5 W
    assert.equal(r.rails[0]!.watts, 0.5);
    assert.deepEqual(r.wraps, ['intel-rapl:0']);
  });
  it('a RAPL counter that goes back with no range is a reset: no watts, no total', () => {
    const r = raplRails([{ zone: 'intel-rapl:0', rail: 'package-0', energyMicrojoules: 9 }], [{ zone: 'intel-rapl:0', rail: 'package-0', energyMicrojoules: 5 }], 10);
    assert.equal(r.rails[0]!.watts, undefined);
    assert.deepEqual(r.resets, ['intel-rapl:0']);
    assert.deepEqual(powerTotal(r.rails), {});
  });
  it('RAPL psys is the total when present; packages are summed without their subzones otherwise', () => {
    const rails = (list: [string, number][]) => list.map(([rail, watts]) => ({ rail, source: 'rapl' as const, sensor: rail, watts }));
    assert.deepEqual(powerTotal(rails([['package-0', 20], ['package-0/core', 12], ['psys', 31]])), { totalWatts: 31, totalOf: 'psys' });
    assert.deepEqual(powerTotal(rails([['package-0', 20], ['package-0/core', 12], ['package-1', 18]])), { totalWatts: 38, totalOf: 'sum' });
  });
  it('an unreadable energy_uj (root only since 5.10) is no counter, not an error', () => {
    assert.deepEqual(parseRapl(files({ '/sys/class/powercap/intel-rapl:0/name': 'package-0\n', '/sys/class/powercap/intel-rapl:0/energy_uj': '' })), { counters: [], errors: [] });
  });
});

describe('clocks and throttling', () => {
  it('kHz → Hz; a driver without a current frequency (<unknown>) is a message, not a row', () => {
    const r = parseCpuClocks(files({
      '/sys/devices/system/cpu/cpu0/cpufreq/scaling_cur_freq': '1800000\n',
      '/sys/devices/system/cpu/cpu1/cpufreq/scaling_cur_freq': '<unknown>\n',
    }));
    assert.deepEqual(r.frequencies, [{ cpu: '0', curHertz: 1.8e9 }]);
    assert.match(r.errors[0]!, /cpu1\/cpufreq\/scaling_cur_freq: not a frequency in kHz: "<unknown>"/);
  });
  it('reads get_throttled as sysfs and vcgencmd print it, and refuses anything else', () => {
    assert.deepEqual(parseGetThrottled('50005\n', 'sysfs', 'f'), { flags: 0x50005, source: 'sysfs' });
    assert.deepEqual(parseGetThrottled('throttled=0x0\n', 'vcgencmd', 'f'), { flags: 0, source: 'vcgencmd' });
    assert.throws(() => parseGetThrottled('VCHI initialization failed\n', 'vcgencmd', VCGENCMD_SECTION), /vcgencmd get_throttled: not a get_throttled word \(hex\): "VCHI initialization failed"/);
    assert.deepEqual(rpiThrottledFrom(files({}), VCGENCMD_SECTION), {});
  });
  it('counts the core throttles since the last round, and none after a reboot (the counter went back)', () => {
    const f = files({ '/sys/devices/system/cpu/cpu0/thermal_throttle/core_throttle_count': '3\n' });
    const first = COLLECTORS.clocks.collect({ files: f, nowMs: 0, filters: {} });
    assert.equal(first.readings.clocks!.throttles[0]!.coreThrottlesNew, undefined);
    const again = COLLECTORS.clocks.collect({ files: f, nowMs: 10_000, filters: {}, prev: { timeMs: 0, sample: { coreThrottles: { 0: 1 } } } });
    assert.equal(again.readings.clocks!.throttles[0]!.coreThrottlesNew, 2); // 3 − 1
    const rebooted = COLLECTORS.clocks.collect({ files: f, nowMs: 10_000, filters: {}, prev: { timeMs: 0, sample: { coreThrottles: { 0: 40 } } } });
    assert.equal(rebooted.readings.clocks!.throttles[0]!.coreThrottlesNew, undefined);
    assert.match(rebooted.notes[0]!, /went back/);
  });
});

describe('the probe, run by /bin/sh as on a node', () => {
  const run = (roots: Parameters<typeof probeCommand>[1], env: NodeJS.ProcessEnv = process.env) => {
    const nonce = 'feedfacefeedface';
    const out = execFileSync('/bin/sh', ['-c', probeCommand(['clocks', 'tegraGpu'], roots, { nonce, dfTimeoutSeconds: 1 })], { encoding: 'utf8', env });
    return splitProbeOutput(probeEnd(out, nonce, 0).body, roots!);
  };
  it('asks vcgencmd only where the sysfs word is missing, and finds rootfs files under edgefleet_rootfs', () => {
    const root = join(dir, 'pi');
    mkdirSync(join(root, 'sys', 'devices', 'platform', 'soc', 'soc:firmware'), { recursive: true });
    mkdirSync(join(root, 'bin'), { recursive: true });
    mkdirSync(join(root, 'var', 'lib', 'nvpmodel'), { recursive: true });
    writeFileSync(join(root, 'var', 'lib', 'nvpmodel', 'status'), 'pmode:0001\n');
    writeFileSync(join(root, 'bin', 'vcgencmd'), '#!/bin/sh\necho throttled=0x4\n');
    chmodSync(join(root, 'bin', 'vcgencmd'), 0o755);
    const roots = { procRoot: join(root, 'proc'), sysRoot: join(root, 'sys'), rootfsRoot: root, vcgencmd: join(root, 'bin', 'vcgencmd') };
    let f = run(roots);
    assert.equal(f.get(VCGENCMD_SECTION), 'throttled=0x4\n');
    assert.equal(f.get('/var/lib/nvpmodel/status'), 'pmode:0001\n');
    writeFileSync(join(root, 'sys', 'devices', 'platform', 'soc', 'soc:firmware', 'get_throttled'), '0\n');
    f = run(roots);
    assert.equal(f.get(VCGENCMD_SECTION), undefined);
    assert.equal(f.get('/sys/devices/platform/soc/soc:firmware/get_throttled'), '0\n');
  });
  it('without vcgencmd and without the sysfs word, prints nothing for it', () => {
    const root = join(dir, 'x86');
    mkdirSync(join(root, 'sys'), { recursive: true });
    const f = run({ procRoot: join(root, 'proc'), sysRoot: join(root, 'sys'), vcgencmd: join(root, 'no-such-vcgencmd') });
    assert.equal(f.size, 0);
  });
});

describe('energy per inference', () => {
  it('integrates power by the trapezoid rule: 5, 7, 6 W at 100, 110, 120 s = 60 + 65 = 125 J, 6.25 W', () => {
    const e = trapezoidJoules([{ timeUnixSeconds: 100, watts: 5 }, { timeUnixSeconds: 110, watts: 7 }, { timeUnixSeconds: 120, watts: 6 }]);
    assert.deepEqual(e, { fromUnixSeconds: 100, toUnixSeconds: 120, joules: 125, averageWatts: 6.25 });
    assert.equal(trapezoidJoules([{ timeUnixSeconds: 100, watts: 5 }]), undefined);
  });
  it('inference stats: 50 inferences from 100 to 120 s under 5, 7, 6 W give 6.25 W and 125 / 50 = 2.5 J per inference', async () => {
    const db = openDb(join(dir, 'energy.db'));
    try {
      migrate(db);
      syncNodes(db, [{ name: 'orin', host: 'orin', port: 22, connection: 'ssh', groups: [], vars: {} }], 1);
      const id = (db.prepare("SELECT id FROM nodes WHERE name = 'orin'").get() as { id: number }).id;
      for (const [t, w] of [[90, 100], [100, 5], [110, 7], [120, 6], [130, 100]] as const) db.prepare("INSERT INTO power (node_id, time, watts, total_of) VALUES (?, ?, ?, 'VDD_IN')").run(id, t, w);
      // Inferences at 100.0, 100.4, …, 119.6 s (50, every 0.4 s): the span is 100 s to 120 s (the last one's second, rounded up).
      const rows = Array.from({ length: 50 }, (_, i) => ({
        nodeId: id, deploymentId: null, model: 'lab/yolo', tag: 'v8', timeUnixMs: 100_000 + i * 400, record: { timeUnixMs: 100_000 + i * 400, latencyMs: 10, batch: 1 }, source: 'push' as const, lineKey: lineKey('energy', i),
      }));
      assert.equal(inferenceStore(db).insert(rows), 50);
      const [s] = await inferenceStats(db, { fromUnixSeconds: 0, toUnixSeconds: 1000 });
      // Samples 100, 110, 120 s (90 and 130 lie outside): (5 + 7) / 2 · 10 + (7 + 6) / 2 · 10 = 125 J over 20 s;
      // the 50 inferences are all in [100, 120] s → 2.5 J each.
      assert.equal(s!.powerWatts, 6.25);
      assert.equal(s!.joulesPerInference, 2.5);
    } finally {
      db.close();
    }
  });
});
