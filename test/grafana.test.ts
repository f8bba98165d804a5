/**
 * The Grafana provisioning and dashboards: static checks on the JSON, then every SQL target,
 * expanded exactly as Grafana + frser-sqlite-datasource would (test/grafana/expand.ts), run
 * against a database filled by a real collection over a small sshd fleet, at a raw (1 h), a
 * 1-minute-rollup (24 h) and a 1-hour-rollup (7 d) range.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { parse as parseYaml } from 'yaml';
import { buildDashboards, DATASOURCE, GATE, RAW_MAX_NODE_SECONDS, ROLLUP_1H_MAX_NODE_SECONDS, ROLLUP_1M_MAX_NODE_SECONDS, serialize } from './grafana/build.js';
import { allPanels, dashboardQueries, loadDashboards, type DashboardQuery } from './grafana/dashboards.js';
import { expandQuery, grafanaIntervalMs, interpolateVariables, applyPluginMacros, variableReferences, type ExpandContext } from './grafana/expand.js';
import { collectFleetDb, DOWN_NODE, FLEET_MACHINES, GONE_NODE, NVIDIA_NODE, type FleetDb } from './grafana/fleetDb.js';
import { insertDeployment, recordNodeStep, saveRepositorySync, setModelDescription } from '../shared/store/index.js';
import { detectAnomalies } from '../shared/detect/anomalies.js';
import { ANOMALY_ANNOTATION_SQL } from './grafana/build.js';
import type { ModelImage } from '../shared/domain/index.js';
import { inferenceStore, lineKey, type InferenceWrite } from '../shared/store/inference.js';
import { inferenceStats, percentile } from '../shared/collect/inferenceStats.js';
import { LATENCY_BUCKETS_MS } from './grafana/build.js';

const MODEL: ModelImage = {
  repository: 'models/yolo',
  tag: 'v8',
  digest: 'sha256:' + 'a'.repeat(64),
  mediaType: 'application/vnd.oci.image.index.v1+json',
  platforms: [
    { platform: 'linux/amd64', os: 'linux', architecture: 'amd64', digest: 'sha256:' + 'b'.repeat(64), sizeBytes: 4100 },
    { platform: 'linux/arm64', os: 'linux', architecture: 'arm64', digest: 'sha256:' + 'c'.repeat(64), sizeBytes: 4200 },
  ],
  sizeBytes: 4200,
  createdUnixSeconds: 1717198200,
  description: 'Real-time object detection',
  task: 'object-detection',
  labels: {},
};

const GRAFANA = join(import.meta.dirname, '..', 'grafana');
const METRIC_TABLES = new Set(['temperature', 'cpu', 'load', 'memory', 'storage', 'network', 'diskio', 'inodes', 'pressure', 'nvidia_gpu', 'rollup_1m', 'rollup_1h', 'rollup_6h', 'collector_runs', 'inference']);
const DASHBOARD_VARIABLES = new Set(['node', 'group', 'model', 'tag']);
/** The inference dashboard reads raw inference rows only (percentiles have no rollup). */
const INFERENCE = 'inference.json';
const IRIS = 'lab/iris';
/** Fleet-wide panels that read no node's data, so $node does not filter them: the model catalog. */
const CATALOG_PANELS = new Set(['Models']);
const loaded = loadDashboards();
const queries = dashboardQueries(loaded);
const HOUR = 3600_000;
const RANGES = [
  { name: '1h (raw)', ms: HOUR, table: 'raw' },
  { name: '24h (rollup_1m)', ms: 24 * HOUR, table: 'rollup_1m' },
  { name: '7d (rollup_1h)', ms: 7 * 24 * HOUR, table: 'rollup_1h' },
] as const;

type Row = Record<string, unknown>;

describe('expansion rules (Grafana templateSrv, then the plugin backend)', () => {
  const ctx: ExpandContext = {
    fromMs: 1_700_000_000_123,
    toMs: 1_700_003_600_456,
    intervalMs: 15_000,
    variables: { node: ["o'brien", 'b'], group: '$__all', one: 'x' },
    options: { group: ['edge', 'pis'] },
  };
  it('formats multi-value variables: sqlstring doubles quotes, singlequote backslashes, no format is a glob', () => {
    assert.equal(interpolateVariables('IN (${node:sqlstring})', ctx), "IN ('o''brien','b')");
    assert.equal(interpolateVariables('IN (${node:singlequote})', ctx), "IN ('o\\'brien','b')");
    assert.equal(interpolateVariables('IN ($node)', ctx), "IN ({o'brien,b})");
    assert.equal(interpolateVariables('${one:sqlstring} $one [[one]]', ctx), "'x' x x");
  });
  it('expands All to every option of the variable, or to a custom all value verbatim', () => {
    assert.equal(interpolateVariables('IN (${group:sqlstring})', ctx), "IN ('edge','pis')");
    assert.equal(interpolateVariables('IN (${group:sqlstring})', { ...ctx, allValues: { group: '%' } }), 'IN (%)');
  });
  it('gives $__from/$__to in ms, ${__interval_ms:date:seconds} in whole seconds; there is no $__interval_s', () => {
    assert.equal(interpolateVariables('$__from $__to ${__from:date:seconds} $__interval $__interval_ms ${__interval_ms:date:seconds}', ctx), '1700000000123 1700003600456 1700000000 15s 15000 15');
    assert.equal(interpolateVariables('$__interval_s $__unixEpochGroupSeconds(time, 5) $nope', ctx), '$__interval_s $__unixEpochGroupSeconds(time, 5) $nope');
    assert.throws(() => expandQuery('SELECT $__unixEpochGroupSeconds(time, $__interval_s) AS time', ctx), /could not convert ' \$__interval_s'/);
  });
  it('applies the plugin macro after interpolation: cast((col / n) as int) * n', () => {
    assert.deepEqual(expandQuery('SELECT $__unixEpochGroupSeconds(t.time, ${__interval_ms:date:seconds}) AS time', ctx), { sql: 'SELECT cast((t.time / 15) as int) * 15 AS time', gapFill: false, fillIntervalSeconds: 15 });
    assert.equal(expandQuery('$__unixEpochGroupSeconds(time, 60, NULL)', ctx).gapFill, true);
    assert.equal(applyPluginMacros('$__timeFilter(time) $__from', { fromMs: 1_000_999, toMs: 0 }).sql, '$__timeFilter(time) 1000000');
  });
  it('computes the panel interval as Grafana does, never below the min interval', () => {
    assert.equal(grafanaIntervalMs(0, HOUR, 1000), 5000); // 3.6 s → 5 s
    assert.equal(grafanaIntervalMs(0, HOUR, 1000, '10s'), 10_000);
    assert.equal(grafanaIntervalMs(0, 7 * 24 * HOUR, 1000), 600_000);
  });
});

describe('provisioning and dashboards', () => {
  it('provisions the datasource with a stable uid and the mounted database path', () => {
    const ds = parseYaml(readFileSync(join(GRAFANA, 'provisioning', 'datasources', 'edgefleet.yaml'), 'utf8'));
    assert.equal(ds.datasources.length, 1);
    assert.equal(ds.datasources[0].type, 'frser-sqlite-datasource');
    assert.equal(ds.datasources[0].uid, 'edgefleet-sqlite');
    assert.equal(ds.datasources[0].jsonData.path, '/var/lib/edgefleet/edgefleet.db');
  });

  it('provisions the dashboards folder where docker-compose mounts it, and mounts the database folder writable', () => {
    const prov = parseYaml(readFileSync(join(GRAFANA, 'provisioning', 'dashboards', 'edgefleet.yaml'), 'utf8'));
    assert.equal(prov.providers[0].type, 'file');
    const compose = parseYaml(readFileSync(join(GRAFANA, 'docker-compose.yml'), 'utf8'));
    const svc = compose.services.grafana;
    assert.match(svc.image, /^grafana\/grafana-oss(:|$)/);
    assert.equal(svc.environment.GF_INSTALL_PLUGINS, 'frser-sqlite-datasource');
    const volumes = svc.volumes as string[];
    assert.ok(volumes.includes(`./dashboards:${prov.providers[0].options.path}:ro`), 'dashboards mounted at the provider path, read-only');
    assert.ok(volumes.includes('./provisioning/datasources:/etc/grafana/provisioning/datasources:ro'));
    assert.ok(volumes.includes('./provisioning/dashboards:/etc/grafana/provisioning/dashboards:ro'));
    assert.ok(volumes.includes('${EDGEFLEET_DATA_DIR:-../data}:/var/lib/edgefleet'), 'the database folder, writable (WAL -shm)');
  });

  it('has stable uids, a current schema, and the JSON the generator writes', () => {
    assert.deepEqual(loaded.map((l) => [l.file, l.dashboard.uid]), [['fleet-overview.json', 'edgefleet-fleet'], ['inference.json', 'edgefleet-inference'], ['node-detail.json', 'edgefleet-node']]);
    const built = buildDashboards();
    for (const l of loaded) {
      assert.ok(l.dashboard.schemaVersion >= 39, l.file);
      assert.equal(l.text, serialize(built[l.file]!), `${l.file} differs from test/grafana/build.ts: run node --import tsx test/grafana/build.ts`);
    }
  });

  it('refers to the datasource by uid only, everywhere', () => {
    const walk = (v: unknown, path: string): void => {
      if (Array.isArray(v)) return v.forEach((x, i) => walk(x, `${path}[${i}]`));
      if (!v || typeof v !== 'object') return;
      for (const [k, x] of Object.entries(v)) {
        if (k === 'datasource') assert.deepEqual(x, DATASOURCE, `${path}.datasource`);
        walk(x, `${path}.${k}`);
      }
    };
    for (const l of loaded) {
      walk(l.dashboard, l.file);
      for (const p of allPanels(l.dashboard)) assert.deepEqual(p.datasource, DATASOURCE, `${l.file} ${p.title}`);
    }
  });

  it('names no node', () => {
    for (const l of loaded) {
      for (const name of FLEET_MACHINES) assert.ok(!l.text.includes(name), `${l.file} names ${name}`);
      assert.ok(!l.text.includes(`'${DOWN_NODE}'`), l.file);
      for (const v of l.dashboard.templating.list) {
        const current = JSON.stringify(v.current ?? {});
        assert.ok(current === '{}' || current.includes('$__all'), `${l.file} ${v.name} has a saved value`);
      }
    }
  });

  it('has the variables: group and node (multi, All) on the overview, node (single) on the detail', () => {
    const vars = Object.fromEntries(loaded.map((l) => [l.dashboard.uid, Object.fromEntries(l.dashboard.templating.list.map((v) => [v.name, v]))]));
    const fleet = vars['edgefleet-fleet']!;
    assert.equal(fleet.group!.query, 'SELECT DISTINCT grp FROM node_groups ORDER BY grp');
    for (const n of ['group', 'node']) assert.ok(fleet[n]!.multi && fleet[n]!.includeAll && !fleet[n]!.allValue, n);
    assert.match(String(fleet.node!.query), /\$\{group:sqlstring\}/);
    assert.ok(!vars['edgefleet-node']!.node!.multi && !vars['edgefleet-node']!.node!.includeAll);
    const inf = vars['edgefleet-inference']!;
    assert.deepEqual(Object.keys(inf), ['model', 'tag', 'node']);
    assert.ok(!inf.model!.multi && !inf.model!.includeAll, 'one model at a time');
    for (const n of ['tag', 'node']) assert.ok(inf[n]!.multi && inf[n]!.includeAll && !inf[n]!.allValue, n);
    for (const n of ['model', 'tag', 'node']) assert.equal(inf[n]!.refresh, 2, `${n}: refreshed with the time range`);
    assert.match(String(inf.tag!.query), /\$\{model:sqlstring\}/);
    assert.match(String(inf.node!.query), /\$\{model:sqlstring\}.*\$\{tag:sqlstring\}/s);
  });

  it('follows the plugin rules in every query', () => {
    for (const q of queries) {
      const what = `${q.file} ${q.title}`;
      for (const ref of variableReferences(q.rawSql)) {
        if (DASHBOARD_VARIABLES.has(ref.name)) assert.equal(ref.format, 'sqlstring', `${what}: ${ref.text} must be \${${ref.name}:sqlstring}`);
        else assert.ok(['__from', '__to', '__interval_ms', '__unixEpochGroupSeconds'].includes(ref.name), `${what}: unexpected ${ref.text}`);
      }
      assert.doesNotMatch(q.rawSql, /\$__interval_s|\$__timeFilter/, what);
      if (q.kind === 'panel' && !CATALOG_PANELS.has(q.title)) assert.match(q.rawSql, /n\.name IN \(\$\{node:sqlstring\}\)/, `${what}: filtered by $node`);
      if (q.panelType !== 'timeseries' && q.panelType !== 'heatmap') continue;
      assert.equal(q.queryType, 'time series', what);
      assert.ok(q.timeColumns.includes('time'), what);
      assert.ok(q.minInterval && grafanaIntervalMs(0, 1, 1, q.minInterval) >= 1000, `${what}: a min interval of at least 1 s (no 0 s bucket)`);
      assert.match(q.rawSql, /ORDER BY time ASC/, what);
      const selects = q.rawSql.split('UNION ALL');
      for (const s of selects) {
        assert.match(s, /\$__unixEpochGroupSeconds\((\w+)\.time, \$\{__interval_ms:date:seconds\}\) AS time/, what);
        assert.match(s, /(\w+)\.time >= \$__from \/ 1000 AND \1\.time < \$__to \/ 1000/, what);
      }
      if (q.file === INFERENCE) {
        // Raw inference rows of one model and the selected tags: no rollup holds a percentile.
        assert.equal(selects.length, 1, what);
        assert.ok(!/rollup_/.test(q.rawSql) && /JOIN inference x ON x\.node_id = n\.id/.test(q.rawSql), what);
        assert.match(q.rawSql, /x\.model = \$\{model:sqlstring\}\s+AND x\.tag IN \(\$\{tag:sqlstring\}\)/, what);
        continue;
      }
      // Every series has rollups: raw, rollup_1m, rollup_1h and rollup_6h branches, gated by range × nodes.
      assert.equal(selects.length, 4, what);
      assert.ok(selects[0]!.includes(GATE.raw) && !/JOIN rollup_/.test(selects[0]!), what);
      assert.ok(selects[1]!.includes(GATE.m1) && selects[1]!.includes('JOIN rollup_1m r'), what);
      assert.ok(selects[2]!.includes(GATE.h1) && selects[2]!.includes('JOIN rollup_1h r'), what);
      assert.ok(selects[3]!.includes(GATE.h6) && selects[3]!.includes('JOIN rollup_6h r'), what);
    }
    assert.deepEqual(queries.filter((q) => q.file === INFERENCE && q.kind === 'panel').map((q) => [q.panelType, q.title]), [
      ['timeseries', 'Latency percentiles'],
      ['timeseries', 'Throughput'],
      ['timeseries', 'Accuracy'],
      ['heatmap', 'Latency distribution'],
      ['timeseries', 'Energy per inference'],
      ['table', 'Nodes'],
    ]);
    const overview = queries.filter((q) => q.file === 'fleet-overview.json' && q.panelType === 'timeseries').map((q) => q.title);
    assert.deepEqual(overview, ['Temperature per zone', 'CPU usage', 'Memory used', 'Disk used per mount', 'Network per interface']);
  });
});

describe('every dashboard query against a collected database', () => {
  let f: FleetDb;
  let toMs: number;
  /** Every node has a location but the down node and x86-hub (a map must skip NULLs). */
  const LOCATED = ['jetson-orin', 'rpi4', 'x86-node-exporter'];

  before(async () => {
    f = await collectFleetDb();
    toMs = (f.collectedAt + 60) * 1000;
    const set = f.db.prepare('UPDATE nodes SET latitude = ?, longitude = ? WHERE name = ?');
    LOCATED.forEach((n, i) => set.run(48.1 + i, 11.5 + i, n));
    // The catalog as collectModels writes it: one model, described by its label and by a person.
    await saveRepositorySync(f.db, 'lab', { repository: 'models/yolo', images: [MODEL], unchanged: [], errors: new Map([['broken', 'not JSON']]), tagsComplete: true, tags: ['v8', 'broken'] }, f.collectedAt);
    await setModelDescription(f.db, 'lab', 'models/yolo', 'v8', 'Counts people at the gate', f.collectedAt);
    // Anomalies as detectAnomalies writes them: at least the down node's "unreachable" episode.
    await detectAnomalies({ db: f.db, nowUnixSeconds: f.collectedAt });
    // A deployment as shared/deploy writes it: rpi4 running, jetson-orin rolled back.
    const nowMs = f.collectedAt * 1000;
    const options = { env: {}, ports: [], volumes: [], restart: 'unless-stopped' as const };
    await insertDeployment(f.db, { id: '0123456789ab', action: 'deploy', registry: 'lab', repository: 'models/yolo', tag: 'v8', image: 'r:5000/models/yolo:v8', target: { group: 'edge' }, options, nodes: ['rpi4', 'jetson-orin'], nowMs });
    await recordNodeStep(f.db, '0123456789ab', 'rpi4', { state: 'pulling', progressPercent: 100 }, nowMs + 500);
    await recordNodeStep(f.db, '0123456789ab', 'rpi4', { state: 'running', final: true }, nowMs + 1000);
    await recordNodeStep(f.db, '0123456789ab', 'jetson-orin', { state: 'rolled_back', error: 'container exited with code 3', final: true }, nowMs + 1000);
    insertInference();
  });

  /**
   * Inferences as the collection path stores them (inferenceStore, as commitLogBatch does): the
   * reference model lab/iris:v1 on rpi4 (600) and jetson-orin (400) over the last 30 minutes up to
   * the collection (so the nodes' temperatures fall between their first and last inference),
   * 1 in 25 an error, 1 in 8 wrong, latencies spread over four decades; and another model on
   * rpi4 that the panels must leave out.
   */
  function insertInference() {
    const ids = new Map((f.db.prepare('SELECT id, name FROM nodes').all() as { id: number; name: string }[]).map((r) => [r.name, r.id]));
    let seed = 7;
    const random = () => ((seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648);
    const rows: InferenceWrite[] = [];
    const add = (node: string, model: string, n: number, scale: number) => {
      for (let i = 0; i < n; i++) {
        const timeUnixMs = (f.collectedAt - 1800) * 1000 + Math.round((i / (n - 1)) * 1800_000);
        const error = i % 25 === 7;
        const expected = ['setosa', 'versicolor', 'virginica'][i % 3]!;
        const label = i % 8 === 3 ? 'virginica' : expected;
        const record = error
          ? { timeUnixMs, error: 'onnxruntime: out of memory', batch: 1 }
          : { timeUnixMs, latencyMs: Math.round(scale * 10 ** (random() * 4 - 1) * 1000) / 1000, batch: 1 + (i % 2), inputId: `iris-${i}`, label, score: 0.9, expected };
        rows.push({ nodeId: ids.get(node)!, deploymentId: null, model, tag: 'v1', timeUnixMs, record, source: 'push', lineKey: lineKey('grafana', node, model, i) });
      }
    };
    add('rpi4', IRIS, 600, 1);
    add('jetson-orin', IRIS, 400, 0.3);
    add('rpi4', 'lab/other', 50, 100);
    assert.equal(inferenceStore(f.db).insert(rows), rows.length);
  }
  after(async () => {
    await f?.close();
  });

  const run = (sql: string): Row[] => f.db.prepare(sql).all() as Row[];
  const columns = (sql: string): string[] => f.db.prepare(sql).columns().map((c) => c.name);

  /** Options and "All" of each variable, resolved as Grafana does: group first, node from it. */
  function variableContext(q: DashboardQuery, group: string | string[], node: string | string[]): Pick<ExpandContext, 'variables' | 'options'> {
    const base: ExpandContext = { fromMs: toMs - HOUR, toMs, intervalMs: 10_000 };
    if (q.file === INFERENCE) {
      // model (single: the reference model), then its tags (All), then the nodes that ran it.
      const sqlOf = (name: string) => queries.find((v) => v.file === INFERENCE && v.kind === 'variable' && v.title === name)!.rawSql;
      const variables: Record<string, string | string[]> = { model: IRIS };
      const options: Record<string, string[]> = { model: run(expandQuery(sqlOf('model'), base).sql).map((r) => Object.values(r)[0] as string) };
      assert.ok(options.model!.includes(IRIS), JSON.stringify(options.model));
      variables.tag = '$__all';
      options.tag = run(expandQuery(sqlOf('tag'), { ...base, variables }).sql).map((r) => Object.values(r)[0] as string);
      options.node = run(expandQuery(sqlOf('node'), { ...base, variables, options }).sql).map((r) => Object.values(r)[0] as string);
      variables.node = node;
      return { variables, options };
    }
    const groupOptions = run(expandQuery(queries.find((v) => v.file === q.file && v.title === 'group')?.rawSql ?? 'SELECT DISTINCT grp FROM node_groups', base).sql).map((r) => Object.values(r)[0] as string);
    const nodeVar = queries.find((v) => v.file === q.file && v.kind === 'variable' && v.title === 'node')!;
    const nodeOptions = run(expandQuery(nodeVar.rawSql, { ...base, variables: { group }, options: { group: groupOptions } }).sql).map((r) => Object.values(r)[0] as string);
    return { variables: { group, node }, options: { group: groupOptions, node: nodeOptions } };
  }

  function expandFor(q: DashboardQuery, rangeMs: number, node: string | string[]) {
    const fromMs = toMs - rangeMs;
    const intervalMs = grafanaIntervalMs(fromMs, toMs, 1000, q.minInterval);
    return { intervalMs, ...expandQuery(q.rawSql, { fromMs, toMs, intervalMs, ...variableContext(q, '$__all', node) }) };
  }

  it('resolves the variables: groups, nodes filtered by group, All covering every node', () => {
    const base = { fromMs: toMs - HOUR, toMs, intervalMs: 10_000 };
    const fleetVars = queries.filter((q) => q.file === 'fleet-overview.json' && q.kind === 'variable');
    const groupSql = fleetVars.find((q) => q.title === 'group')!.rawSql;
    const nodeSql = fleetVars.find((q) => q.title === 'node')!.rawSql;
    assert.deepEqual(run(groupSql).map((r) => r.grp), ['edge', 'jetsons', 'pis']);
    const nodesFor = (group: string | string[]) =>
      run(expandQuery(nodeSql, { ...base, variables: { group }, options: { group: ['edge', 'jetsons', 'pis'] } }).sql).map((r) => r.name);
    assert.deepEqual(nodesFor('$__all'), [...f.nodes].sort());
    assert.deepEqual(nodesFor(['pis']), ['rpi4']);
    assert.deepEqual(nodesFor(['pis', 'jetsons']), ['jetson-orin', 'rpi4']);
    const detailSql = queries.find((q) => q.file === 'node-detail.json' && q.kind === 'variable')!.rawSql;
    assert.deepEqual(run(detailSql).map((r) => r.name), [...f.nodes].sort());
  });

  for (const range of RANGES) {
    it(`runs every panel query over ${range.name}: time series sorted, numeric, not empty`, async () => {
      for (const q of queries.filter((x) => x.kind === 'panel')) {
        const what = `${q.file} ${q.title} @ ${range.name}`;
        // The overview with All; the detail for each node in turn (a panel may be empty on some).
        const nodes: (string | string[])[] = q.file === 'fleet-overview.json' || q.file === INFERENCE ? [['$__all']] : f.nodes;
        let total = 0;
        for (const node of nodes) {
          const { sql, intervalMs } = expandFor(q, range.ms, node);
          const cols = columns(sql);
          const rows = run(sql);
          total += rows.length;
          if (q.file === INFERENCE) await checkInference(what, q, cols, rows, range.ms, Math.round(intervalMs / 1000));
          if (q.panelType === 'timeseries' || q.panelType === 'heatmap') checkTimeSeries(what, cols, rows, Math.round(intervalMs / 1000));
          else if (q.file === INFERENCE && q.panelType === 'table') continue;
          else if (q.panelType === 'table' && CATALOG_PANELS.has(q.title)) checkModelsTable(what, q, cols, rows);
          else if (q.panelType === 'table' && q.title === 'Anomalies') checkAnomaliesTable(what, q, cols, rows);
          else if (q.panelType === 'table' && q.title === 'Deployments') checkDeploymentsTable(what, q, cols, rows);
          else if (q.panelType === 'table') checkTable(what, q, cols, rows);
          else if (q.panelType === 'geomap') checkGeomap(what, cols, rows);
          else if (q.panelType === 'stat') checkStat(what, q, cols, rows);
          else assert.fail(`${what}: unexpected panel type ${q.panelType}`);
        }
        if (q.panelType !== 'geomap') assert.ok(total > 0, `${what}: no rows`);
      }
    });
  }

  function checkTimeSeries(what: string, cols: string[], rows: Row[], bucketSeconds: number) {
    assert.equal(cols[0], 'time', what);
    const labels = cols.filter((c) => c === 'metric');
    const values = cols.filter((c) => c !== 'time' && c !== 'metric');
    assert.ok(values.length > 0, what);
    let prev = -Infinity;
    const seen = new Set<string>();
    for (const r of rows) {
      assert.ok(Number.isInteger(r.time), `${what}: time ${r.time} is not integer unix seconds`);
      const t = r.time as number;
      assert.ok(t >= prev, `${what}: not sorted by time ascending`);
      assert.equal(t % bucketSeconds, 0, `${what}: time ${t} not bucketed to ${bucketSeconds} s`);
      prev = t;
      for (const v of values) assert.ok(r[v] === null || typeof r[v] === 'number', `${what}: ${v}=${String(r[v])} is not numeric`);
      assert.ok(values.some((v) => typeof r[v] === 'number'), `${what}: a row without any value`);
      if (labels.length) {
        assert.equal(typeof r.metric, 'string', what);
        const key = `${t}\0${r.metric}`;
        assert.ok(!seen.has(key), `${what}: two rows for ${r.metric} at ${t} (long → wide keeps one)`);
        seen.add(key);
      }
    }
  }

  /** The reference model's rows in a range, as stored (the truth the inference panels are checked against). */
  function irisRows(rangeMs: number) {
    return f.db
      .prepare(`SELECT n.name AS node, i.time, i.latency_ms AS latency, i.error, i.label, i.expected, i.batch FROM inference i JOIN nodes n ON n.id = i.node_id WHERE i.model = ? AND i.time >= ? AND i.time < ?`)
      .all(IRIS, Math.floor((toMs - rangeMs) / 1000), Math.floor(toMs / 1000)) as { node: string; time: number; latency: number | null; error: string | null; label: string | null; expected: string | null; batch: number }[];
  }

  /** Each inference panel against the stored rows (and the table against inferenceStats). */
  async function checkInference(what: string, q: DashboardQuery, cols: string[], rows: Row[], rangeMs: number, bucketSeconds: number) {
    const truth = irisRows(rangeMs);
    assert.ok(truth.length === 1000, `${what}: the planted rows are in the range`);
    const bucketOf = (t: number) => Math.floor(t / bucketSeconds) * bucketSeconds;
    const okIn = (node: string | undefined, time: number | undefined) =>
      truth.filter((r) => r.error === null && r.latency !== null && (node === undefined || r.node === node) && (time === undefined || bucketOf(r.time) === time)).map((r) => r.latency!).sort((a, b) => a - b);
    if (q.title === 'Latency percentiles') {
      assert.deepEqual(cols, ['time', 'metric', 'p50', 'p90', 'p99'], what);
      assert.deepEqual([...new Set(rows.map((r) => r.metric))].sort(), ['jetson-orin', 'rpi4'], `${what}: lab/other left out`);
      for (const r of rows) {
        const l = okIn(r.metric as string, r.time as number);
        assert.deepEqual([r.p50, r.p90, r.p99], [percentile(l, 50), percentile(l, 90), percentile(l, 99)], `${what} ${r.metric}@${r.time}`);
      }
    } else if (q.title === 'Throughput') {
      assert.deepEqual(cols, ['time', 'metric', 'inferences', 'samples'], what);
      assert.equal(rows.reduce((s, r) => s + (r.inferences as number) * bucketSeconds, 0), truth.length, what);
      assert.ok(Math.abs(rows.reduce((s, r) => s + (r.samples as number) * bucketSeconds, 0) - truth.reduce((s, r) => s + r.batch, 0)) < 1e-6, what);
    } else if (q.title === 'Accuracy') {
      assert.deepEqual(cols, ['time', 'metric', 'accuracy'], what);
      for (const r of rows) {
        const g = truth.filter((x) => x.node === r.metric && bucketOf(x.time) === r.time && x.error === null && x.expected !== null);
        assert.equal(r.accuracy, g.filter((x) => x.label === x.expected).length / g.length, `${what} ${r.metric}@${r.time}`);
      }
    } else if (q.title === 'Latency distribution') {
      assert.deepEqual(cols, ['time', ...LATENCY_BUCKETS_MS.map(String), '+Inf'], what);
      const counts = cols.slice(1).map((c) => rows.reduce((s, r) => s + (r[c] as number), 0));
      assert.equal(counts.reduce((a, b) => a + b, 0), okIn(undefined, undefined).length, `${what}: every ok inference in one bucket`);
      const all = okIn(undefined, undefined);
      LATENCY_BUCKETS_MS.forEach((le, i) => assert.equal(counts[i], all.filter((v) => v <= le && (i === 0 || v > LATENCY_BUCKETS_MS[i - 1]!)).length, `${what}: bucket ${le}`));
    } else if (q.title === 'Nodes') {
      assert.deepEqual(cols, ['node', 'count', 'p50', 'p95', 'p99', 'error_rate', 'accuracy', 'temperature'], what);
      const stats = await inferenceStats(f.db, { fromUnixSeconds: Math.floor((toMs - rangeMs) / 1000), toUnixSeconds: Math.floor(toMs / 1000) - 1, model: IRIS });
      assert.deepEqual(rows.map((r) => r.node), ['jetson-orin', 'rpi4'], what);
      assert.deepEqual(
        rows.map((r) => [r.node, r.count, r.p50, r.p95, r.p99, r.error_rate, r.accuracy, r.temperature]),
        stats.map((s) => [s.node, s.count, s.latencyMs!.p50, s.latencyMs!.p95, s.latencyMs!.p99, s.errorRate, s.accuracy, s.temperatureCelsius]),
        `${what}: as inferenceStats`,
      );
      for (const r of rows) assert.equal(typeof r.temperature, 'number', `${what}: ${r.node} has a temperature`);
    } else if (q.title === 'Energy per inference') {
      assert.deepEqual(cols, ['time', 'metric', 'watts', 'joules_per_inference'], what);
      assert.ok(rows.length > 0, `${what}: jetson-orin has power samples among its inferences`);
      for (const r of rows) {
        // The node's mean power in the bucket × the bucket ÷ its inferences of the model in it.
        const watts = f.db
          .prepare(`SELECT AVG(watts) AS w FROM power WHERE node_id = (SELECT id FROM nodes WHERE name = ?) AND time >= ? AND time < ?`)
          .get(r.metric, r.time, (r.time as number) + bucketSeconds) as { w: number };
        const n = truth.filter((x) => x.node === r.metric && bucketOf(x.time) === r.time).length;
        assert.ok(Math.abs((r.watts as number) - watts.w) < 1e-9, `${what} ${r.metric}@${r.time} watts`);
        assert.ok(Math.abs((r.joules_per_inference as number) - (watts.w * bucketSeconds) / n) < 1e-9, `${what} ${r.metric}@${r.time} J/inference`);
      }
    } else assert.fail(`${what}: unexpected inference panel`);
  }

  function checkDeploymentsTable(what: string, q: DashboardQuery, cols: string[], rows: Row[]) {
    assert.deepEqual(cols, ['created', 'deployment', 'action', 'model', 'node', 'state', 'progress', 'updated', 'error'], what);
    assert.deepEqual(q.timeColumns, ['created', 'updated']);
    assert.deepEqual(rows.map((r) => [r.node, r.state, r.progress, r.error]), [
      ['jetson-orin', 'rolled_back', null, 'container exited with code 3'],
      ['rpi4', 'running', 100, null],
    ], what);
    assert.ok(rows.every((r) => r.model === 'models/yolo:v8' && r.deployment === '0123456789ab'));
  }

  function checkTable(what: string, q: DashboardQuery, cols: string[], rows: Row[]) {
    assert.deepEqual(cols, ['name', 'groups', 'host', 'status', 'last_seen', 'temperature', 'cpu', 'memory', 'disk', 'gpu', 'gpu_watts', 'power', 'data_age', 'readings'], what);
    assert.deepEqual(q.timeColumns, ['last_seen']);
    const panel = allPanels(loaded.find((l) => l.file === q.file)!.dashboard).find((p) => p.id === q.panelId)!;
    const overrides = ((panel.fieldConfig as { overrides: { matcher: { id: string; options: string } }[] }).overrides);
    for (const o of overrides) assert.ok(cols.includes(o.matcher.options), `${what}: override for missing column ${o.matcher.options}`);
    const by = Object.fromEntries(rows.map((r) => [r.name, r]));
    assert.deepEqual(Object.keys(by).sort(), [...f.nodes].sort(), what);
    assert.equal(by[DOWN_NODE]!.status, 'unreachable');
    assert.equal(by[DOWN_NODE]!.last_seen, null);
    assert.equal(by[DOWN_NODE]!.cpu, null);
    const rpi = by.rpi4!;
    assert.equal(rpi.status, 'up');
    assert.equal(rpi.groups, 'edge, pis');
    for (const c of ['last_seen', 'temperature', 'cpu', 'memory', 'disk']) assert.equal(typeof rpi[c], 'number', `${what}: rpi4 ${c}`);
    // NVIDIA nodes: the busiest GPU's utilization and the GPUs' power summed (two-gpus.csv: 87 % and 0 %, 312.45 W + 21.87 W).
    assert.equal(rpi.gpu, null);
    assert.equal(by[NVIDIA_NODE]!.gpu, 87, what);
    assert.ok(Math.abs((by[NVIDIA_NODE]!.gpu_watts as number) - 334.32) < 1e-9, `${what}: GPU W ${by[NVIDIA_NODE]!.gpu_watts}`);
    // Stale readings (issue 15 g): the node that answered the first round only shows them marked,
    // older than its newest round by at least the gap between the rounds; an up node's are current.
    const toS = Math.floor(toMs / 1000);
    const timesOf = (name: string) => f.db.prepare('SELECT time FROM collector_runs WHERE node_id = (SELECT id FROM nodes WHERE name = ?) GROUP BY time ORDER BY time').all(name).map((r) => (r as { time: number }).time);
    const [gone1, gone2] = timesOf(GONE_NODE);
    assert.ok(gone1 !== undefined && gone2 !== undefined && gone2 > gone1, `${what}: ${GONE_NODE} has two rounds`);
    const gone = by[GONE_NODE]!;
    assert.equal(gone.status, 'unreachable', what);
    assert.equal(typeof gone.memory, 'number', `${what}: ${GONE_NODE} still shows its first round's memory`);
    assert.equal(gone.readings, 'stale', what);
    assert.equal(gone.data_age, toS - gone1, `${what}: ${GONE_NODE} read at its first round`);
    assert.ok((gone.data_age as number) > gone2 - gone1, `${what}: older than its round gap`);
    for (const n of ['rpi4', NVIDIA_NODE]) {
      assert.equal(by[n]!.readings, 'current', `${what}: ${n}`);
      assert.equal(by[n]!.data_age, toS - timesOf(n).at(-1)!, `${what}: ${n} read at its last round`);
    }
    assert.equal(by[DOWN_NODE]!.readings, null, `${what}: never read, nothing to mark`);
    const readingsMap = ((overrides.find((o) => o.matcher.options === 'readings') as unknown as { properties: { id: string; value: { options: Record<string, unknown> }[] }[] }).properties[0]!.value)[0]!.options;
    assert.deepEqual(Object.keys(readingsMap).sort(), ['current', 'stale']);
    const hottest = f.db.prepare("SELECT MAX(celsius) AS c FROM temperature WHERE node_id = (SELECT id FROM nodes WHERE name = 'rpi4') AND time = (SELECT MAX(time) FROM temperature WHERE node_id = (SELECT id FROM nodes WHERE name = 'rpi4'))").get() as { c: number };
    assert.equal(rpi.temperature, hottest.c);
    // Every status the store writes has a colour.
    const mapped = Object.keys(((overrides.find((o) => o.matcher.options === 'status') as unknown as { properties: { id: string; value: { options: Record<string, unknown> }[] }[] }).properties[0]!.value)[0]!.options);
    for (const s of ['unknown', 'up', 'unreachable', 'error', 'removed']) assert.ok(mapped.includes(s), `status ${s} is not mapped`);
  }

  function checkModelsTable(what: string, q: DashboardQuery, cols: string[], rows: Row[]) {
    assert.deepEqual(cols, ['model', 'platforms', 'size', 'created', 'task', 'framework', 'description', 'registry', 'last_seen', 'error'], what);
    for (const t of q.timeColumns) assert.ok(cols.includes(t), what);
    assert.deepEqual(rows.map((r) => [r.model, r.platforms, r.size, r.description, r.error]), [
      ['models/yolo:broken', null, null, null, 'not JSON'],
      ['models/yolo:v8', 'linux/amd64, linux/arm64', 4200, 'Counts people at the gate', null],
    ], what);
  }

  function checkAnomaliesTable(what: string, q: DashboardQuery, cols: string[], rows: Row[]) {
    assert.deepEqual(cols, ['node', 'series', 'label', 'detector', 'kind', 'start', 'end', 'samples', 'score', 'message'], what);
    for (const t of q.timeColumns) assert.ok(cols.includes(t), what);
    const down = rows.find((r) => r.node === DOWN_NODE && r.kind === 'unreachable');
    assert.ok(down && down.end === null && down.detector === 'rule', `${what}: the down node's open episode`);
    assert.equal(rows[0]!.end, null, `${what}: open episodes first`);
  }

  it('annotates the time-series panels with the anomalous episodes of the selected nodes', () => {
    for (const l of loaded) {
      const list = (l.dashboard as unknown as { annotations: { list: { datasource: unknown; target: { rawQueryText: string; timeColumns: string[] } }[] } }).annotations.list;
      const a = list.find((x) => x.target?.rawQueryText === ANOMALY_ANNOTATION_SQL)!;
      assert.ok(a, `${l.file}: the anomalies annotation`);
      assert.deepEqual(a.datasource, DATASOURCE);
      assert.deepEqual(a.target.timeColumns, ['time', 'timeEnd']);
    }
    assert.match(ANOMALY_ANNOTATION_SQL, /n\.name IN \(\$\{node:sqlstring\}\)/);
    assert.match(ANOMALY_ANNOTATION_SQL, /ORDER BY time ASC/);
    const q = { rawSql: ANOMALY_ANNOTATION_SQL, file: 'fleet-overview.json' } as DashboardQuery;
    const all = run(expandFor(q, HOUR, '$__all').sql);
    assert.deepEqual(Object.keys(all[0] ?? {}), ['time', 'timeEnd', 'text', 'tags']);
    assert.ok(all.some((r) => String(r.text).startsWith(DOWN_NODE) && String(r.tags).includes('unreachable')), JSON.stringify(all));
    const others = run(expandFor(q, HOUR, f.nodes.filter((n) => n !== DOWN_NODE)).sql);
    assert.ok(!others.some((r) => String(r.text).startsWith(DOWN_NODE + ' ')), 'filtered by $node');
  });

  function checkGeomap(what: string, cols: string[], rows: Row[]) {
    for (const c of ['latitude', 'longitude', 'name', 'status']) assert.ok(cols.includes(c), `${what}: ${c}`);
    assert.deepEqual(rows.map((r) => r.name), LOCATED, what);
    for (const r of rows) assert.ok(typeof r.latitude === 'number' && typeof r.longitude === 'number', what);
  }

  function checkStat(what: string, q: DashboardQuery, cols: string[], rows: Row[]) {
    assert.equal(rows.length, 1, what);
    assert.equal(cols.length, 1, what);
    for (const t of q.timeColumns) assert.ok(cols.includes(t), what);
  }

  it('picks raw data or a rollup level by range × selected nodes, in one query', () => {
    // A value only one source holds, per source, for rpi4's memory: the panel must show exactly
    // the one of the source its range selects.
    const q = queries.find((x) => x.file === 'fleet-overview.json' && x.title === 'Memory used')!;
    const id = (f.db.prepare("SELECT id FROM nodes WHERE name = 'rpi4'").get() as { id: number }).id;
    const at = f.collectedAt - 2 * 3600;
    f.db.exec('SAVEPOINT gates');
    try {
      f.db.prepare('INSERT INTO memory (node_id, time, mem_total_bytes, mem_free_bytes, used_percent) VALUES (?, ?, 100, 90, 11.0)').run(id, at);
      f.db.prepare("INSERT INTO rollup_1m (node_id, series, label, time, min, avg, max, count) VALUES (?, 'memory.used_percent', '', ?, 22, 22, 22, 1)").run(id, Math.floor(at / 60) * 60);
      f.db.prepare("INSERT INTO rollup_1h (node_id, series, label, time, min, avg, max, count) VALUES (?, 'memory.used_percent', '', ?, 33, 33, 33, 1)").run(id, Math.floor(at / 3600) * 3600 - 3600);
      f.db.prepare("INSERT INTO rollup_6h (node_id, series, label, time, min, avg, max, count) VALUES (?, 'memory.used_percent', '', ?, 44, 44, 44, 1)").run(id, Math.floor(at / 21600) * 21600 - 21600);
      const valuesAt = (rangeMs: number) => run(expandFor(q, rangeMs, ['$__all']).sql).filter((r) => r.metric === 'rpi4' && (r.time as number) < f.collectedAt - 3600).map((r) => r.value);
      // "All" selects every node: the gates scale down by their number (SQLite divides ms by 1000 as integers).
      const nodes = f.nodes.length;
      const rawMaxS = Math.floor(RAW_MAX_NODE_SECONDS / nodes);
      const m1MaxS = Math.floor(ROLLUP_1M_MAX_NODE_SECONDS / nodes);
      assert.ok(rawMaxS * 1000 > 2 * HOUR, 'the planted sample is inside the raw range');
      assert.deepEqual(valuesAt(rawMaxS * 1000), [11]);
      assert.deepEqual(valuesAt((rawMaxS + 1) * 1000), [22]);
      assert.deepEqual(valuesAt(m1MaxS * 1000), [22]);
      assert.deepEqual(valuesAt((m1MaxS + 1) * 1000), [33]);
      const h1MaxS = Math.floor(ROLLUP_1H_MAX_NODE_SECONDS / nodes);
      assert.deepEqual(valuesAt(h1MaxS * 1000), [33]);
      // The collected data has a 6-hour bucket of its own after the planted one.
      assert.equal(valuesAt((h1MaxS + 1) * 1000)[0], 44);
    } finally {
      f.db.exec('ROLLBACK TO gates; RELEASE gates');
    }
  });

  /** The plan lines that SCAN a metric table (aliases resolved), and the whole plan. */
  function metricScans(sql: string): { scans: string[]; plan: string[] } {
    const aliases = new Map<string, Set<string>>();
    for (const m of sql.matchAll(/\b(?:FROM|JOIN)\s+(\w+)(?:\s+(?:AS\s+)?(\w+))?/gi)) {
      const alias = m[2] && !/^(ON|WHERE|JOIN|LEFT|INNER|CROSS|GROUP|ORDER|USING|UNION)$/i.test(m[2]) ? m[2] : m[1]!;
      if (!aliases.has(alias)) aliases.set(alias, new Set());
      aliases.get(alias)!.add(m[1]!);
    }
    const plan = (f.db.prepare(`EXPLAIN QUERY PLAN ${sql}`).all() as { detail: string }[]).map((r) => r.detail);
    const scans = plan.filter((line) => {
      const scan = /^SCAN (\w+)/.exec(line);
      if (!scan) return false;
      const tables = aliases.get(scan[1]!) ?? new Set([scan[1]!]);
      return [...tables].some((t) => METRIC_TABLES.has(t));
    });
    return { scans, plan };
  }

  it('seeks every metric table by (node_id, time): EXPLAIN QUERY PLAN has no SCAN of one', () => {
    // The check itself sees a scan.
    assert.equal(metricScans('SELECT * FROM cpu c WHERE c.time > 0').scans.length, 1);
    assert.equal(metricScans("SELECT * FROM nodes n JOIN rollup_1h r ON r.node_id = n.id WHERE n.name = 'x' AND r.series = 'y'").scans.length, 0);
    for (const q of queries) {
      for (const range of RANGES) {
        const { sql } = expandFor(q, range.ms, q.file === 'fleet-overview.json' ? ['$__all'] : 'rpi4');
        const { scans, plan } = metricScans(sql);
        assert.deepEqual(scans, [], `${q.file} ${q.title} @ ${range.name}:\n${plan.join('\n')}`);
        if (q.panelType === 'timeseries') assert.ok(plan.some((l) => /^SEARCH \w+ USING (PRIMARY KEY|INDEX inference_node_time) \(node_id=\? AND (series=\? AND )?time>\? AND time<\?\)/.test(l)), `${q.title}: ${plan.join('\n')}`);
      }
    }
  });
});
