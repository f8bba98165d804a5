/**
 * GET /metrics against the real thing: `edgefleet hub` collects three synthetic nodes every 1.5 s (fake
 * /proc and /sys roots whose counters move on every 400 ms) and Debian's Prometheus 2.42
 * scrapes it every 500 ms. PromQL over Prometheus' HTTP API must give, per node and round,
 * what edgefleet stored in SQLite: rates from the raw counters and the samples' timestamps,
 * gauges as they are. promtool lints the exposition.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import Database from 'better-sqlite3';
import { fakeState } from './harness/fakeProc.js';
import type { HubProcess } from './harness/hub.js';
import { checkCpuBusy, checkMemAvailable, checkNetworkRates, rawSamples } from './harness/promChecks.js';
import type { Prometheus } from './harness/prometheus.js';
import { SCRAPED_NODES, startScrapedFleet } from './harness/scrapedFleet.js';

const ROUNDS = 7;

let dir: string;
let hub: HubProcess | undefined;
let prom: Prometheus | undefined;
let ticker: NodeJS.Timeout | undefined;
let db: Database.Database;

const nodeId = (name: string) => (db.prepare('SELECT id FROM nodes WHERE name = ?').get(name) as { id: number }).id;

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'edgefleet-prom-'));
  ({ hub, prom, ticker } = await startScrapedFleet(dir, join(dir, 'e.db'), ROUNDS, 40_000));
  db = new Database(join(dir, 'e.db'), { readonly: true, fileMustExist: true });
});

after(async () => {
  if (ticker) clearInterval(ticker);
  db?.close();
  await prom?.stop();
  await hub?.kill();
  rmSync(dir, { recursive: true, force: true });
});

/** Prometheus' raw samples of one series over the last 10 minutes. */
const raw = (selector: string) => rawSamples(prom!, selector, '10m');

describe('GET /metrics scraped by Prometheus 2.42', () => {
  it('is linted clean by promtool check metrics (but for node_exporter’s own camelCase meminfo names)', async () => {
    const text = await (await fetch(`${hub!.base}/metrics`, { signal: AbortSignal.timeout(5000) })).text();
    assert.match(text, /^# HELP /);
    const lint = spawnSync('promtool', ['check', 'metrics'], { input: text, encoding: 'utf8' });
    const problems = (lint.stdout + lint.stderr).split('\n').filter(Boolean);
    // node_exporter names these node_memory_MemTotal_bytes etc.; promlint dislikes the case, exit 3.
    for (const p of problems) assert.match(p, /^node_memory_\w+_bytes metric names should be written in 'snake_case' not 'camelCase'$/, p);
    assert.ok(lint.status === 0 || (lint.status === 3 && problems.length > 0), `promtool exit ${lint.status}`);
    const withoutMeminfo = text
      .split('\n')
      .filter((l) => !/node_memory_(Mem|Swap)/.test(l))
      .join('\n');
    const clean = spawnSync('promtool', ['check', 'metrics'], { input: withoutMeminfo, encoding: 'utf8' });
    assert.equal(clean.status, 0, clean.stdout + clean.stderr);
  });

  it('answers OpenMetrics when Accept asks for it, the text format otherwise', async () => {
    const om = await fetch(`${hub!.base}/metrics`, { headers: { accept: 'application/openmetrics-text;version=1.0.0,text/plain;version=0.0.4;q=0.5' }, signal: AbortSignal.timeout(5000) });
    assert.equal(om.headers.get('content-type'), 'application/openmetrics-text; version=1.0.0; charset=utf-8');
    const body = await om.text();
    assert.ok(body.endsWith('# EOF\n'));
    assert.match(body, /^# TYPE node_cpu_seconds counter\n# UNIT node_cpu_seconds seconds\n/m);
    const text = await fetch(`${hub!.base}/metrics`, { signal: AbortSignal.timeout(5000) });
    assert.equal(text.headers.get('content-type'), 'text/plain; version=0.0.4; charset=utf-8');
    const bad = await fetch(`${hub!.base}/metrics?x=1`, { signal: AbortSignal.timeout(5000) });
    assert.equal(bad.status, 400);
  });

  it('every node is a target-like instance with its groups, job from the scrape config', async () => {
    assert.deepEqual((await prom!.query('up{job="edgefleet"}')).map((r) => r.value![1]), ['1']);
    const uname = await prom!.query('node_uname_info');
    assert.deepEqual(
      uname.map((r) => [r.metric.instance, r.metric.groups, r.metric.job, r.metric.nodename]).sort(),
      SCRAPED_NODES.map((n) => [n.name, `,${n.groups.join(',')},`, 'edgefleet', n.name]),
    );
    assert.deepEqual((await prom!.query('edgefleet_node_up')).map((r) => r.value![1]), ['1', '1', '1']);
  });

  for (const node of SCRAPED_NODES) {
    it(`${node.name}: rate(node_network_receive_bytes_total[…]) is the rate edgefleet stored, round by round`, async () => {
      const checked = await checkNetworkRates(prom!, db, node.name);
      assert.ok(checked >= ROUNDS - 3, `only ${checked} rounds compared`);
    });
    it(`${node.name}: 100 - avg by (instance)(rate(node_cpu_seconds_total{mode="idle"}[…]))*100 follows from the CPU rows edgefleet stored`, async () => {
      const checked = await checkCpuBusy(prom!, db, node.name);
      assert.ok(checked >= ROUNDS - 3, `only ${checked} rounds compared`);
    });
    it(`${node.name}: node_memory_MemAvailable_bytes at each round's time is the stored mem_available_bytes`, async () => {
      const samples = await checkMemAvailable(prom!, db, node.name);
      assert.ok(samples.length >= ROUNDS - 2, `${samples.length} samples`);
    });
  }

  it('temperatures, filesystems and load are the newest stored values', async () => {
    const id = nodeId('pi-b');
    // The newest round Prometheus has (the hub goes on collecting meanwhile).
    const latest = async (selector: string) => Number((await prom!.query(`max(timestamp(${selector}))`))[0]!.value![1]);
    const stamps = { temperature: await latest('node_thermal_zone_temp{instance="pi-b"}'), storage: await latest('node_filesystem_size_bytes{instance="pi-b"}'), load: await latest('node_load1{instance="pi-b"}') };
    const last = (table: keyof typeof stamps) => stamps[table];
    const temps = db.prepare('SELECT sensor, celsius FROM temperature WHERE node_id = ? AND time = ?').all(id, last('temperature')) as { sensor: string; celsius: number }[];
    const at = (s: string) => temps.find((t) => t.sensor === s)!.celsius;
    const hw = await prom!.query('node_hwmon_temp_celsius{instance="pi-b"} * on (instance, chip, sensor) group_left (label) node_hwmon_sensor_label');
    assert.deepEqual(hw.map((r) => [r.metric.chip, r.metric.sensor, r.metric.label, Number(r.value![1])]).sort(), [
      ['hwmon0', 'temp1', 'Package id 0', at('hwmon0/temp1')],
      ['hwmon0', 'temp2', 'Core 0', at('hwmon0/temp2')],
    ]);
    const zone = await prom!.query('node_thermal_zone_temp{instance="pi-b"}');
    assert.deepEqual(zone.map((r) => [r.metric.type, r.metric.zone, Number(r.value![1])]), [['cpu-thermal', '0', at('thermal_zone0')]]);
    assert.deepEqual((await prom!.query('node_hwmon_chip_names{instance="pi-b"}')).map((r) => r.metric.chip_name), ['coretemp']);

    const fs = db.prepare('SELECT m.mount_point, total_bytes, used_bytes, available_bytes FROM storage s JOIN mounts m USING (node_id, mount_point) WHERE s.node_id = ? AND time = ?').all(id, last('storage')) as { mount_point: string; total_bytes: number; used_bytes: number; available_bytes: number }[];
    assert.ok(fs.length > 0);
    for (const f of fs) {
      const sel = `{instance="pi-b",mountpoint="${f.mount_point}"}`;
      const one = async (name: string) => Number((await prom!.query(name + sel, last('storage')))[0]!.value![1]);
      assert.equal(await one('node_filesystem_size_bytes'), f.total_bytes);
      assert.equal(await one('node_filesystem_avail_bytes'), f.available_bytes);
      assert.equal(await one('node_filesystem_free_bytes'), f.total_bytes - f.used_bytes);
      assert.deepEqual(Object.keys((await prom!.query('node_filesystem_size_bytes' + sel))[0]!.metric).sort(), ['__name__', 'device', 'fstype', 'groups', 'instance', 'job', 'mountpoint']);
    }
    const load = db.prepare('SELECT load1, load15 FROM load WHERE node_id = ? AND time = ?').get(id, last('load')) as { load1: number; load15: number };
    assert.equal(Number((await prom!.query('node_load1{instance="pi-b"}', last('load')))[0]!.value![1]), load.load1);
    assert.equal(Number((await prom!.query('node_load15{instance="pi-b"}', last('load')))[0]!.value![1]), load.load15);
    const boot = await prom!.query('node_boot_time_seconds{instance="pi-b"}');
    assert.equal(Number(boot[0]!.value![1]), fakeState(1, 0).bootTimeUnixSeconds);
  });
});

describe('Grafana provisioning for Prometheus', () => {
  it('provisions a Prometheus datasource beside the SQLite one, its URL from docker-compose', async () => {
    const { parse } = await import('yaml');
    const { readFileSync } = await import('node:fs');
    const grafana = join(import.meta.dirname, '..', 'grafana');
    const ds = parse(readFileSync(join(grafana, 'provisioning', 'datasources', 'prometheus.yaml'), 'utf8')).datasources;
    assert.equal(ds.length, 1);
    assert.equal(ds[0].type, 'prometheus');
    assert.equal(ds[0].uid, 'edgefleet-prometheus');
    assert.equal(ds[0].url, '${EDGEFLEET_PROMETHEUS_URL}');
    assert.equal(parse(readFileSync(join(grafana, 'provisioning', 'datasources', 'edgefleet.yaml'), 'utf8')).datasources[0].uid, 'edgefleet-sqlite');
    const svc = parse(readFileSync(join(grafana, 'docker-compose.yml'), 'utf8')).services.grafana;
    assert.equal(svc.environment.EDGEFLEET_PROMETHEUS_URL, '${EDGEFLEET_PROMETHEUS_URL:-http://host.docker.internal:9090}');
  });
});
