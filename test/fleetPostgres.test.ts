/**
 * The fleet end to end into PostgreSQL: OpenSSH sshd nodes on loopback reading captured
 * machines' /proc and /sys, collected by the collectAll handler with EDGEFLEET_DB a postgres://
 * URL of a real PostgreSQL 15 started by the test. Expected values come from each machine's
 * expected.json (worked out apart from the parsers, test/fixtures/machines/SOURCE.md); no SQLite
 * file is made.
 */
import assert from 'node:assert/strict';
import { chmodSync, cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { lambdaContext } from '../cli/lambdaContext.js';
import type { CollectionSummary } from '../shared/collect/collection.js';
import { loadConfig } from '../shared/config/config.js';
import { closeResources } from '../shared/handler/resources.js';
import { openPg, type PgDb } from '../shared/store/pg.js';
import { postgresAvailable, startPostgres, type TestPostgres } from './harness/postgres.js';
import { startFleet, type Fleet } from './harness/sshFleet.js';

const MACHINES = join(import.meta.dirname, 'fixtures', 'machines');
const GOOD = ['x86-hub', 'rpi4', 'jetson-orin'] as const;
type Expected = Record<string, any>;
const expected = (m: string): Expected => JSON.parse(readFileSync(join(MACHINES, m, 'expected.json'), 'utf8'));
const ID = '(SELECT id FROM nodes WHERE name = $1)';

let pg: TestPostgres;
let fleet: Fleet;
let dir: string;
let db: PgDb;
const roots = new Map<string, string>();

async function collectAll(): Promise<CollectionSummary> {
  const { handler } = await import('../functions/collectAll.js');
  return (await handler({}, lambdaContext('collectAll') as never)) as CollectionSummary;
}
const nextSecond = () => new Promise((r) => setTimeout(r, 1000 - (Date.now() % 1000) + 20));

describe('collectAll over sshd nodes into PostgreSQL', { skip: postgresAvailable() ? false : 'no PostgreSQL 15 here' }, () => {
  let round2: CollectionSummary;
  before(async () => {
    pg = await startPostgres();
    dir = mkdtempSync(join(tmpdir(), 'edgefleet-fleet-pg-'));
    chmodSync(dir, 0o755);
    for (const m of GOOD) {
      const root = join(dir, 'roots', m);
      mkdirSync(root, { recursive: true });
      cpSync(join(MACHINES, m, 'proc'), join(root, 'proc'), { recursive: true });
      if (existsSync(join(MACHINES, m, 'sys'))) cpSync(join(MACHINES, m, 'sys'), join(root, 'sys'), { recursive: true, verbatimSymlinks: true });
      else mkdirSync(join(root, 'sys'));
      writeFileSync(join(root, 'proc', 'uptime'), '1000.00 3500.00\n');
      roots.set(m, root);
    }
    const names = [...GOOD, 'dead'];
    fleet = await startFleet({ count: names.length });
    const lines = ['[edge]'];
    fleet.nodes.forEach((n, i) => {
      const root = roots.get(names[i]!);
      lines.push(`${names[i]} ansible_host=${n.host} ansible_port=${n.port} ansible_user=${n.user} ansible_ssh_private_key_file=${n.privateKeyFile}${root ? ` edgefleet_proc_root=${root}/proc edgefleet_sys_root=${root}/sys` : ''}`);
    });
    writeFileSync(join(dir, 'hosts.ini'), lines.join('\n') + '\n');
    await fleet.stop(fleet.nodes[names.indexOf('dead')]!.name);
    Object.assign(process.env, {
      EDGEFLEET_INVENTORY: join(dir, 'hosts.ini'),
      EDGEFLEET_DB: pg.url,
      EDGEFLEET_SSH_KNOWN_HOSTS_FILE: fleet.knownHostsFile,
      EDGEFLEET_COLLECT_COMMAND_TIMEOUT_SECONDS: '3',
      EDGEFLEET_COLLECT_CONNECT_TIMEOUT_SECONDS: '3',
      EDGEFLEET_LOG_LEVEL: 'silent',
    });
    await collectAll();
    await nextSecond();
    for (const m of GOOD) {
      cpSync(join(MACHINES, m, 'proc1'), join(roots.get(m)!, 'proc'), { recursive: true });
      writeFileSync(join(roots.get(m)!, 'proc', 'uptime'), `${(1000 + (expected(m).netRates?.intervalSeconds ?? 10)).toFixed(2)} 3600.00\n`);
    }
    round2 = await collectAll();
    db = await openPg(pg.url);
  });
  after(async () => {
    await db?.close();
    await closeResources();
    await fleet?.close();
    await pg?.close();
    delete process.env.EDGEFLEET_DB;
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('collects the good nodes; the dead one fails alone and is marked unreachable in PostgreSQL', async () => {
    for (const m of GOOD) assert.equal(round2.perNode.find((r) => r.node === m)?.status, 'up', m);
    assert.equal(round2.perNode.find((r) => r.node === 'dead')?.status, 'unreachable');
    assert.equal(round2.stored, true);
    const rows = await db.query<{ name: string; status: string; seen: number | null }>('SELECT name, status, last_seen_unix_seconds AS seen FROM nodes ORDER BY name');
    const by = Object.fromEntries(rows.map((r) => [r.name, r]));
    assert.equal(by.rpi4!.status, 'up');
    assert.equal(by.dead!.status, 'unreachable');
    assert.equal(by.dead!.seen, null);
    assert.equal(existsSync(join(dir, 'data')), false);
    assert.deepEqual(readdirSync(dir).filter((f) => f.endsWith('.db')), []);
  });

  it('stores memory, temperatures, load and CPU usage over the interval exactly', async () => {
    for (const m of GOOD) {
      const w = expected(m);
      const [mem] = await db.query<Expected>(`SELECT * FROM memory WHERE node_id = ${ID} ORDER BY time DESC LIMIT 1`, [m]);
      assert.equal(mem!.mem_total_bytes, w.memory.memTotalBytes, m);
      assert.equal(mem!.mem_available_bytes, w.memory.memAvailableBytes ?? null, m);
      assert.ok(Math.abs(mem!.used_percent - w.memory.usedPercent) < 1e-9, m);
      const temps = await db.query<Expected>(
        `SELECT t.sensor, t.celsius FROM temperature t WHERE t.node_id = ${ID} AND t.time = (SELECT MAX(time) FROM temperature WHERE node_id = t.node_id) ORDER BY sensor`,
        [m],
      );
      assert.deepEqual(temps, (w.temperature.readings as Expected[]).map((r) => ({ sensor: r.sensor, celsius: r.celsius })).sort((a, b) => (a.sensor < b.sensor ? -1 : 1)), m);
      const [load] = await db.query<Expected>(`SELECT load1, load5, load15 FROM load WHERE node_id = ${ID} ORDER BY time DESC LIMIT 1`, [m]);
      assert.deepEqual(load, { load1: w.cpu.load1, load5: w.cpu.load5, load15: w.cpu.load15 }, m);
      const cpus = await db.query<Expected>(`SELECT cpu, usage_percent FROM cpu WHERE node_id = ${ID}`, [m]);
      const want = w.cpuUsage.usage as Expected[];
      assert.equal(cpus.length, want.length, `${m}: one row per cpu, from round 2 only (counters carried in the store)`);
      for (const u of want) assert.ok(Math.abs(cpus.find((c) => c.cpu === u.cpu)!.usage_percent - u.usagePercent) < 1e-6, `${m} ${u.cpu}`);
    }
  });

  it('writes each round once, with a run per node and kind', async () => {
    const [r] = await db.query<{ rounds: number; runs: number }>('SELECT (SELECT COUNT(*) FROM rounds) AS rounds, (SELECT COUNT(*) FROM collector_runs) AS runs');
    assert.equal(r!.rounds, 2);
    const kinds = loadConfig({ env: {} }).collect.kinds.length;
    assert.equal(r!.runs, 2 * 4 * kinds, `two rounds × four nodes × ${kinds} kinds`);
  });
});
