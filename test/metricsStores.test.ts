/**
 * GET /metrics on both stores, SQLite and a real PostgreSQL 15 (eachStore): the rounds written
 * through Store.writeRound come out with the values written (worked out below from the rounds,
 * not by the renderer), the same bytes on both stores for the same rounds, the body kept while
 * nothing is written and rendered again after another hub's write, and the inference histograms'
 * cursor (on PostgreSQL it waits for ids to settle: out-of-order commits of several writers).
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { it } from 'node:test';
import type { NodeSpec } from '../shared/domain/index.js';
import { renderMetrics } from '../shared/prometheus/scrape.js';
import { HISTOGRAM_SETTLE_MS, inferenceLatencyHistograms, type InferenceWrite, type NodeReadings, type RoundWrite, type Store } from '../shared/store/index.js';
import { inferenceRows } from '../shared/store/inferenceRows.js';
import { eachStore } from './harness/stores.js';

/** Within the partitions a PostgreSQL store makes at open: an hour before the hour now. */
const T0 = Math.floor(Date.now() / 1000 / 3600) * 3600 - 3600;
const spec = (name: string, groups: string[]): NodeSpec => ({ name, groups, vars: {}, connection: 'ssh', host: name, port: 22 });
const NODES = [spec('pi-a', ['pis']), spec('jetson-b', ['jetsons', 'lab']), spec('x86 "c"', [])];

const iface = (name: string, k: number, i: number) => ({ iface: name, rxBytes: 1_000_000 * (i + 1) + k * 4096, rxPackets: 900 + k, rxErrors: 0, rxDrops: i, txBytes: 5_000_000_000 + k * 1000, txPackets: 40 + k, txErrors: 0, txDrops: 0 });
const cpuTimes = (cpu: string, k: number) => ({ cpu, userSeconds: 100.25 + k, niceSeconds: 0, systemSeconds: 50.5 + k / 2, idleSeconds: 9000.75 + 8 * k, iowaitSeconds: 1.5, irqSeconds: 0, softirqSeconds: 0.25, stealSeconds: 0, guestSeconds: 0, guestNiceSeconds: 0 });

/** Round k of the three nodes: every kind the scrape reads, values a function of k. */
function round(k: number): RoundWrite {
  const t = T0 + 10 * k;
  const readings: NodeReadings[] = NODES.map((n, i) => ({
    node: n.name,
    timeUnixSeconds: t,
    temperature: [
      { source: 'thermal_zone', sensor: 'thermal_zone0', type: 'cpu-thermal', celsius: 45.5 + k + i },
      { source: 'hwmon', sensor: 'hwmon1/temp2', type: 'coretemp/Core 0', celsius: 50.125 },
    ],
    load: { load1: 0.5 + i, load5: 0.25, load15: 0.125 + k },
    memory: { memTotalBytes: 4_000_000_000, memFreeBytes: 1_000_000_000 - k, memAvailableBytes: 2_500_000_000 + i, buffersBytes: 1000, cachedBytes: 2000, usedPercent: 37.5 },
    storage: [
      { mountPoint: '/', device: '/dev/mmcblk0p2', fsType: 'ext4', totalBytes: 30_000_000_000, usedBytes: 10_000_000_000 + k, availableBytes: 18_000_000_000 - k, usedPercent: 35.7 },
      { mountPoint: '/boot/firmware', device: '/dev/mmcblk0p1', fsType: 'vfat', totalBytes: 500_000_000, usedBytes: 60_000_000, availableBytes: 440_000_000, usedPercent: 12 },
    ],
    network: { counters: [iface('eth0', k, i), iface('wlan0', k, i)], rates: new Map(), links: new Map([['eth0', { iface: 'eth0', operState: 'up', carrier: 1, speedBytesPerSecond: 125_000_000 }]]) },
    ...(i === 1
      ? {
          tegraGpu: [{ device: '17000000.ga10b', loadPercent: 51.2, curFreqHertz: 306_000_000, maxFreqHertz: 1_300_500_000, emcFreqHertz: 2_133_000_000, powerMode: '15W', powerModeId: 0 }],
          power: { rails: [{ rail: 'VDD_IN', source: 'ina3221' as const, sensor: 'hwmon1/in1', volts: 5.056, amperes: 1.432, watts: 7.24 }], totalWatts: 7.24, totalOf: 'VDD_IN' },
          clocks: { frequencies: [{ cpu: 'cpu0', curHertz: 1_497_600_000, minHertz: 115_200_000, maxHertz: 1_984_000_000 }], throttles: [] },
        }
      : {}),
  }));
  const counters = NODES.flatMap((n, i) => [
    { node: n.name, kind: 'cpu' as const, timeMs: t * 1000 + 137, sample: { bootTimeUnixSeconds: 1_700_000_000 + i, cpus: [cpuTimes('all', k), cpuTimes('0', k), cpuTimes('1', k)] } },
    { node: n.name, kind: 'network' as const, timeMs: t * 1000 + 140, sample: { interfaces: [iface('eth0', k, i), iface('wlan0', k, i)] } },
  ]);
  const kinds = ['temperature', 'cpu', 'memory', 'storage', 'network'] as const;
  return {
    timeUnixSeconds: t, startedUnixMs: t * 1000, kinds: [...kinds], readings, counters,
    runs: NODES.flatMap((n) => kinds.map((kind) => ({ node: n.name, kind, success: kind !== 'storage' || n.name !== 'pi-a', durationMs: 0.5, rows: 2 }))),
    outcomes: NODES.map((n) => ({ name: n.name, status: 'up' as const, seenUnixSeconds: t })),
  };
}

async function fleet(s: Store, rounds = 2): Promise<void> {
  await s.syncNodes(NODES, T0 - 10);
  for (let k = 0; k < rounds; k++) await s.writeRound(round(k));
}

/** `name{labels} value timestamp` lines of the text format, by everything before the value. */
const samples = (body: string) => new Map(body.split('\n').filter((l) => l && !l.startsWith('#')).map((l) => [l.slice(0, l.lastIndexOf(' ', l.lastIndexOf(' ') - 1)), l.slice(l.lastIndexOf(' ', l.lastIndexOf(' ') - 1) + 1)]));
const text = async (s: Store, openMetrics = false) => (await renderMetrics(s, { openMetrics })).body.toString();

/** The bodies of the first store kind that ran, to hold the next one to. */
const firstBodies = new Map<string, string>();

eachStore('GET /metrics', (k) => {
  it('the newest round of every node, with the values and times written, and the same bytes on both stores', async () => {
    const s = await k.open();
    try {
      await fleet(s);
      const body = await text(s);
      const got = samples(body);
      const at = (t: number, ms = 0) => String((T0 + 10 * t) * 1000 + ms);
      const pi = 'instance="pi-a",groups=",pis,"';
      assert.equal(got.get(`node_load15{${pi}}`), `1.125 ${at(1)}`);
      assert.equal(got.get(`node_memory_MemAvailable_bytes{${pi}}`), `2500000000 ${at(1)}`);
      assert.equal(got.get(`node_cpu_seconds_total{${pi},cpu="1",mode="idle"}`), `9008.75 ${at(1, 137)}`);
      assert.equal(got.get(`node_cpu_seconds_total{${pi},cpu="all",mode="idle"}`), undefined, 'the aggregate line is not a core');
      assert.equal(got.get(`node_network_transmit_bytes_total{${pi},device="wlan0"}`), `5000001000 ${at(1, 140)}`);
      assert.equal(got.get(`node_network_up{${pi},device="eth0"}`), `1 ${at(1)}`);
      assert.equal(got.get(`node_filesystem_free_bytes{${pi},device="/dev/mmcblk0p2",fstype="ext4",mountpoint="/"}`), `${30_000_000_000 - 10_000_000_001} ${at(1)}`);
      assert.equal(got.get(`node_thermal_zone_temp{${pi},type="cpu-thermal",zone="0"}`), `46.5 ${at(1)}`);
      assert.equal(got.get(`node_hwmon_temp_celsius{${pi},chip="hwmon1",sensor="temp2"}`), `50.125 ${at(1)}`);
      assert.equal(got.get(`node_boot_time_seconds{${pi}}`), `1700000000 ${at(1, 137)}`);
      assert.equal(got.get(`edgefleet_collector_success{${pi},kind="storage"}`), `0 ${at(1)}`);
      assert.equal(got.get(`node_uname_info{${pi},nodename="pi-a",sysname="Linux"}`), `1 ${at(1, 137)}`);
      const jetson = 'instance="jetson-b",groups=",jetsons,lab,"';
      assert.equal(got.get(`edgefleet_tegra_gpu_load_percent{${jetson},device="17000000.ga10b"}`), `51.2 ${at(1)}`);
      assert.equal(got.get(`edgefleet_power_watts{${jetson}}`), `7.24 ${at(1)}`);
      assert.equal(got.get(`node_hwmon_in_volts{${jetson},chip="hwmon1",sensor="in1"}`), `5.056 ${at(1)}`);
      assert.equal(got.get(`node_cpu_scaling_frequency_hertz{${jetson},cpu="cpu0"}`), `1497600000 ${at(1)}`);
      assert.equal(got.get(`node_load1{instance="x86 \\"c\\"",groups=""}`), `2.5 ${at(1)}`);
      // Status series carry no timestamp (the state now, not a probe's).
      assert.match(body, /^edgefleet_node_up\{instance="pi-a",groups=",pis,"\} 1$/m);
      const lint = spawnSync('promtool', ['check', 'metrics'], { input: body.split('\n').filter((l) => !/node_memory_(Mem|Swap)/.test(l)).join('\n'), encoding: 'utf8' });
      if (!lint.error) assert.equal(lint.status, 0, lint.stdout + lint.stderr);

      const om = await text(s, true);
      assert.match(om, /# EOF\n$/);
      for (const [format, b] of [['text', body], ['openmetrics', om]] as const) {
        const first = firstBodies.get(format);
        if (first === undefined) firstBodies.set(format, b);
        else assert.equal(b, first, `${k.name}'s ${format} body differs from the other store's`);
      }
    } finally {
      await s.close();
    }
  });

  it('keeps the body while nothing is written, and renders again after a round from another hub on the same database', async () => {
    const [a, b] = await k.openPair();
    try {
      await fleet(a, 1);
      const first = await renderMetrics(a, { openMetrics: false });
      assert.equal((await renderMetrics(a, { openMetrics: false })).body, first.body, 'the same Buffer: served from the cache');
      await b.writeRound(round(1));
      const next = (await renderMetrics(a, { openMetrics: false })).body.toString();
      assert.equal(samples(next).get('node_load15{instance="pi-a",groups=",pis,"}'), `1.125 ${(T0 + 10) * 1000}`);
    } finally {
      await a.close();
      if (b !== a) await b.close();
    }
  });

  it('inference latency histograms: counted once, from the first scrape on; a PostgreSQL row counted once its id has settled', async () => {
    const s = await k.open();
    try {
      await s.syncNodes(NODES, T0);
      const nodeId = (await s.listNodes()).find((n) => n.name === 'pi-a')!.id;
      const w = inferenceRows(s);
      const key = { deploymentId: 'aaaaaaaaaaaa', nodeId, containerId: 'c1' };
      const rows = (from: number, latencies: number[]): InferenceWrite[] =>
        latencies.map((latencyMs, i) => ({ nodeId, deploymentId: 'aaaaaaaaaaaa', model: 'lab/iris', tag: 'v1', timeUnixMs: (T0 + from + i) * 1000, record: { batch: 1, latencyMs }, source: 'log', lineKey: BigInt(from + i + 1) }));
      const commit = (at: number, r: InferenceWrite[]) => w.commitLogBatch(key, { logTimeUnixNs: BigInt(at) * 1_000_000_000n, linesAtTime: 1 }, r, { linesRead: r.length, inferences: r.length, ignored: 0, invalid: 0 }, T0 + at);
      // Bounds 1, 10 and 100 ms: 0.5 and 1 are ≤ 1; 7 ≤ 10; 250 above all.
      await commit(1, rows(0, [0.5, 1, 7, 250]));
      const le = [1, 10, 100];
      const now = Date.now();
      const counts = async (atMs: number) => (await inferenceLatencyHistograms(s.sql, le, atMs)).map((h) => [h.instance, h.count, ...h.counts, h.sumMs]);
      assert.deepEqual(await counts(now), [['pi-a', 4, 2, 3, 3, 258.5]]);
      await commit(10, rows(10, [2, 3000]));
      const later = k.name === 'postgres' ? [['pi-a', 4, 2, 3, 3, 258.5]] : [['pi-a', 6, 2, 4, 4, 3260.5]];
      assert.deepEqual(await counts(now + 1000), later, 'right after the write');
      assert.deepEqual(await counts(now + 1000 + HISTOGRAM_SETTLE_MS), [['pi-a', 6, 2, 4, 4, 3260.5]], 'once settled');
      assert.deepEqual(await counts(now + 2000 + 2 * HISTOGRAM_SETTLE_MS), [['pi-a', 6, 2, 4, 4, 3260.5]], 'and never twice');
    } finally {
      await s.close();
    }
  });
});
