/**
 * Collection, anomaly detection and the read routes end to end, on a real PostgreSQL 15 and on
 * SQLite: two local nodes whose thermal zone reads a hand-built series, collected round by round
 * by the collectAll handler, then the detectAnomalies handler (once per period across hubs on
 * PostgreSQL), then GET /anomalies, GET /nodes and `edgefleet anomalies` / `edgefleet nodes`.
 *
 * The series, one sample a round: 50, 50, 88.5, 90.5, 84, 50 °C. Node `hot` has the default
 * limit of 85 °C: the samples over it are rounds 3 and 4, so one `temperature_high` episode
 * from round 3's time to round 4's (closed by round 5's 84), 2 samples, peak 90.5 at round 4.
 * Node `cool` sets edgefleet_temp_max_celsius=95: nothing is over it, no episode.
 */
import assert from 'node:assert/strict';
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { lambdaContext } from '../cli/lambdaContext.js';
import type { CollectionSummary } from '../shared/collect/collection.js';
import { loadConfig } from '../shared/config/config.js';
import { closeResources, storeFor } from '../shared/handler/resources.js';
import { openPg } from '../shared/store/pg.js';
import { runCli } from './harness/cli.js';
import { postgresAvailable, postgresPerFile } from './harness/postgres.js';

const SERIES = [50, 50, 88.5, 90.5, 84, 50];
const RPI = join(import.meta.dirname, 'fixtures', 'machines', 'rpi4', 'proc');
const KEY = 'read-key-for-the-test';

const nextSecond = () => new Promise((r) => setTimeout(r, 1000 - (Date.now() % 1000) + 20));
const handler = async (name: string) => (await import(`../functions/${name}.js`)).handler as (e: unknown, c: unknown) => Promise<any>;
const get = async (name: string, path: string, query?: Record<string, string>) => {
  const r = await (await handler(name))({ requestContext: { http: { method: 'GET' } }, rawPath: path, queryStringParameters: query, headers: { authorization: `Bearer ${KEY}` } }, lambdaContext(name));
  return { status: r.statusCode as number, body: JSON.parse(r.body) };
};

const pg = postgresPerFile();

for (const kind of ['postgres', 'sqlite'] as const) {
  describe(`collection, detection and the read routes: ${kind}`, { skip: kind === 'postgres' && !postgresAvailable() ? 'no PostgreSQL 15 here' : false }, () => {
    let dir: string;
    let db: string;
    const times: number[] = [];
    const env = () => ({ EDGEFLEET_DB: db, EDGEFLEET_INVENTORY: join(dir, 'hosts.ini'), EDGEFLEET_API_READ_KEY: KEY, EDGEFLEET_COLLECT_KINDS: 'temperature,memory', EDGEFLEET_LOG_LEVEL: 'silent' });

    before(async () => {
      dir = mkdtempSync(join(tmpdir(), `edgefleet-watch-${kind}-`));
      db = kind === 'postgres' ? pg().createDatabase('watch') : join(dir, 'edgefleet.db');
      const lines: string[] = [];
      for (const node of ['hot', 'cool']) {
        const root = join(dir, node);
        mkdirSync(join(root, 'proc'), { recursive: true });
        copyFileSync(join(RPI, 'meminfo'), join(root, 'proc', 'meminfo'));
        mkdirSync(join(root, 'sys', 'class', 'thermal', 'thermal_zone0'), { recursive: true });
        writeFileSync(join(root, 'sys', 'class', 'thermal', 'thermal_zone0', 'type'), 'cpu-thermal\n');
        lines.push(`${node} ansible_connection=local edgefleet_proc_root=${root}/proc edgefleet_sys_root=${root}/sys${node === 'cool' ? ' edgefleet_temp_max_celsius=95' : ''}`);
      }
      writeFileSync(join(dir, 'hosts.ini'), lines.join('\n') + '\n');
      Object.assign(process.env, env());
      const collectAll = await handler('collectAll');
      for (const celsius of SERIES) {
        for (const node of ['hot', 'cool']) writeFileSync(join(dir, node, 'sys', 'class', 'thermal', 'thermal_zone0', 'temp'), `${celsius * 1000}\n`);
        await nextSecond();
        const r = (await collectAll({}, lambdaContext('collectAll'))) as CollectionSummary;
        assert.equal(r.stored, true);
        assert.deepEqual(r.perNode.map((n) => n.status), ['up', 'up']);
      }
      // The sample times, as stored (the series' expected episode is in these).
      const store = await storeFor(loadConfig());
      const rows = await store.sql.all<{ time: number; celsius: number }>("SELECT t.time, t.celsius FROM temperature t JOIN nodes n ON n.id = t.node_id WHERE n.name = 'hot' ORDER BY t.time");
      assert.deepEqual(rows.map((r) => r.celsius), SERIES);
      times.push(...rows.map((r) => r.time));
    });
    after(async () => {
      await closeResources();
      for (const k of Object.keys(env())) delete process.env[k];
      rmSync(dir, { recursive: true, force: true });
    });

    it('detectAnomalies finds the one episode the series gives, and only it', async () => {
      const summary = await (await handler('detectAnomalies'))({ source: 'edgefleet.hub', 'detail-type': 'Scheduled Event' }, lambdaContext('detectAnomalies'));
      assert.equal(summary.nodes, 2);
      assert.equal(summary.samples >= 2 * SERIES.length, true, `every temperature sample read (${summary.samples})`);
      const { status, body } = await get('listAnomalies', '/anomalies', { since: '1h' });
      assert.equal(status, 200);
      const rules = (body.anomalies as any[]).filter((a) => a.detector === 'rule');
      assert.deepEqual(
        rules.map((a) => [a.node, a.series, a.label, a.kind, a.startUnixSeconds, a.endUnixSeconds, a.samples, a.peakValue, a.peakUnixSeconds]),
        [['hot', 'temperature.celsius', 'thermal_zone0', 'temperature_high', times[2], times[3], 2, 90.5, times[3]]],
      );
      assert.equal(rules[0].message, 'thermal_zone0 at 90.5 °C (over 85 °C, edgefleet_temp_max_celsius)');
      // The store says the same as the route.
      if (kind === 'postgres') {
        const p = await openPg(db);
        const [r] = await p.query<{ n: number; states: number }>("SELECT (SELECT COUNT(*) FROM anomalies WHERE kind = 'temperature_high') AS n, (SELECT COUNT(*) FROM detector_state) AS states");
        await p.close();
        assert.equal(r!.n, 1);
        assert.ok(r!.states >= 2, 'detector state kept per series in PostgreSQL');
      }
    });

    it('GET /nodes and /health answer from the store with the latest readings', async () => {
      const nodes = await get('listNodes', '/nodes');
      assert.equal(nodes.status, 200);
      assert.deepEqual(nodes.body.nodes.map((n: any) => [n.name, n.status, n.latest?.maxCelsius]), [['cool', 'up', 50], ['hot', 'up', 50]]);
      const health = await get('health', '/health');
      assert.deepEqual([health.status, health.body.status, health.body.nodes, health.body.lastCollectionUnixSeconds], [200, 'ok', { up: 2 }, times.at(-1)]);
    });

    it('edgefleet anomalies and edgefleet nodes read the same store', async () => {
      const a = await runCli(['anomalies', '--since', '1h', '--json'], { cwd: dir, env: env(), timeoutMs: 60_000 });
      assert.equal(a.code, 0, a.stderr);
      const rows = (JSON.parse(a.stdout) as any[]).filter((x) => x.detector === 'rule');
      assert.deepEqual(rows.map((x) => [x.node, x.kind, x.startUnixSeconds, x.endUnixSeconds]), [['hot', 'temperature_high', times[2], times[3]]]);
      const n = await runCli(['nodes', '--json'], { cwd: dir, env: env(), timeoutMs: 60_000 });
      assert.equal(n.code, 0, n.stderr);
      assert.deepEqual((JSON.parse(n.stdout) as any[]).map((x) => [x.name, x.status]), [['cool', 'up'], ['hot', 'up']]);
    });
  });
}
