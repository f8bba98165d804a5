/**
 * GET /metrics of a hub on PostgreSQL, scraped by the real Prometheus 2.42: `edgefleet hub
 * --db postgres://…` (a real PostgreSQL 15 started by the test) collects three synthetic nodes
 * every 1.5 s (fake /proc and /sys roots whose counters move every 400 ms) and Prometheus
 * scrapes it every 500 ms. The issue's PromQL must give, per node and round, what the hub stored
 * in PostgreSQL: its rows are copied into a SQLite database of the same schema for the checks
 * test/prometheus.test.ts runs on a SQLite hub (test/harness/promChecks.ts). promtool lints it.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { openDb, type Db, type Store } from '../shared/store/index.js';
import { openPgStore } from '../shared/store/pgStore.js';
import type { HubProcess } from './harness/hub.js';
import { postgresAvailable, startPostgres, type TestPostgres } from './harness/postgres.js';
import { checkCpuBusy, checkMemAvailable, checkNetworkRates } from './harness/promChecks.js';
import type { Prometheus } from './harness/prometheus.js';
import { SCRAPED_NODES, startScrapedFleet } from './harness/scrapedFleet.js';

const ROUNDS = 7;

let dir: string;
let pg: TestPostgres | undefined;
let hub: HubProcess | undefined;
let prom: Prometheus | undefined;
let store: Store | undefined;
let ticker: NodeJS.Timeout | undefined;

/** What the hub stored in PostgreSQL now, in a SQLite database of the same schema, for promChecks. */
async function storedRows(): Promise<Db> {
  const db = openDb(':memory:');
  for (const table of ['nodes', 'network', 'cpu', 'memory']) {
    const rows = await store!.sql.all(`SELECT * FROM ${table}`);
    if (rows.length === 0) continue;
    const cols = Object.keys(rows[0]!);
    const insert = db.prepare(`INSERT INTO ${table} (${cols.map((c) => `"${c}"`).join(', ')}) VALUES (${cols.map(() => '?').join(', ')})`);
    db.transaction(() => {
      for (const r of rows) insert.run(...cols.map((c) => r[c] as never));
    })();
  }
  return db;
}

const skip = postgresAvailable() ? false : 'no PostgreSQL 15 here';

describe('GET /metrics of a hub on PostgreSQL, scraped by Prometheus 2.42', { skip }, () => {
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'edgefleet-prom-pg-'));
    pg = await startPostgres();
    const url = pg.createDatabase('prom');
    ({ hub, prom, ticker } = await startScrapedFleet(dir, url, ROUNDS, 60_000));
    store = await openPgStore(url);
  });

  after(async () => {
    if (ticker) clearInterval(ticker);
    await prom?.stop();
    await hub?.kill();
    await store?.close();
    await pg?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('is linted clean by promtool check metrics (but for node_exporter’s own camelCase meminfo names)', async () => {
    const text = await (await fetch(`${hub!.base}/metrics`, { signal: AbortSignal.timeout(5000) })).text();
    assert.match(text, /^# HELP /);
    const clean = spawnSync('promtool', ['check', 'metrics'], { input: text.split('\n').filter((l) => !/node_memory_(Mem|Swap)/.test(l)).join('\n'), encoding: 'utf8' });
    assert.equal(clean.status, 0, clean.stdout + clean.stderr);
  });

  it('every node is an instance with its groups; the hub itself is up', async () => {
    assert.deepEqual((await prom!.query('up{job="edgefleet"}')).map((r) => r.value![1]), ['1']);
    const uname = await prom!.query('node_uname_info');
    assert.deepEqual(
      uname.map((r) => [r.metric.instance, r.metric.groups, r.metric.nodename]).sort(),
      SCRAPED_NODES.map((n) => [n.name, `,${n.groups.join(',')},`, n.name]),
    );
    assert.deepEqual((await prom!.query('edgefleet_node_up')).map((r) => r.value![1]), ['1', '1', '1']);
  });

  for (const node of SCRAPED_NODES) {
    it(`${node.name}: network rate, CPU busy and MemAvailable from Prometheus are what PostgreSQL holds for the same rounds`, async () => {
      const db = await storedRows();
      try {
        assert.ok((await checkNetworkRates(prom!, db, node.name)) >= ROUNDS - 3, 'network rounds compared');
        assert.ok((await checkCpuBusy(prom!, db, node.name)) >= ROUNDS - 3, 'CPU rounds compared');
        assert.ok((await checkMemAvailable(prom!, db, node.name)).length >= ROUNDS - 2, 'memory samples compared');
      } finally {
        db.close();
      }
    });
  }
});
