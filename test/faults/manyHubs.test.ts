/**
 * Many writers on one PostgreSQL: four real `edgefleet hub` processes with `collect.shard:
 * auto/4` share an inventory of fixture nodes (the local transport reading a captured x86 proc
 * tree) and write one PostgreSQL 15 for SHARD_ROUNDS rounds each; one is SIGKILLed in the middle
 * of a round. Checked from the database and the hubs' own logs:
 * - every round a surviving hub logged as stored is in `rounds` exactly once, and holds exactly
 *   its shards' nodes, each once per kind (no row lost, none doubled);
 * - two rounds that overlap in time never collect the same node (no shard held twice);
 * - the killed hub's shards are taken over by the survivors once its leases expire;
 * - the singleton rollup and detectAnomalies ran once per period across the four hubs.
 * SHARD_NODES (default 100 in all; the 4 × 200 with SHARD_NODES=800) and SHARD_ROUNDS (default 30).
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { shardNodes } from '../../shared/collect/shard.js';
import { openPg, type PgDb } from '../../shared/store/pg.js';
import { sleep } from '../harness/hub.js';
import { makeProcRoot, startHub, type HubProcess } from '../harness/hubProcess.js';
import { postgresAvailable, startPostgres, type TestPostgres } from '../harness/postgres.js';

const NODES = Number(process.env.SHARD_NODES ?? 100);
const ROUNDS = Number(process.env.SHARD_ROUNDS ?? 30);
const INTERVAL_SECONDS = 2;
const HUBS = 4;

let pg: TestPostgres;
let db: PgDb;
let dir: string;
const hubs: HubProcess[] = [];
const names = Array.from({ length: NODES }, (_, i) => `node-${String(i + 1).padStart(4, '0')}`);

type Line = Record<string, any>;
/** The collectAll rounds a hub logged. */
const roundsOf = (h: HubProcess) => h.logs().filter((l) => l.msg === 'scheduled run' && l.function === 'collectAll');
/** …of them, those that collected nodes (a hub holding no shard yet collects none). */
const collectingRoundsOf = (h: HubProcess) => roundsOf(h).filter((l: Line) => (l.nodes ?? 0) > 0);

describe('four hubs, one PostgreSQL, one killed mid-round', { skip: postgresAvailable() ? false : 'no PostgreSQL 15 here' }, () => {
  let killedAtMs = 0;
  let killedShards: string[] = [];
  before(async () => {
    pg = await startPostgres();
    dir = mkdtempSync(join(tmpdir(), 'edgefleet-hubs-'));
    const proc = makeProcRoot(join(dir, 'node'), 2);
    writeFileSync(join(dir, 'hosts.ini'), names.map((n) => `${n} ansible_connection=local edgefleet_proc_root=${proc}`).join('\n') + '\n');
    const env = {
      EDGEFLEET_COLLECT_SHARD: `auto/${HUBS}`,
      EDGEFLEET_COLLECT_KINDS: 'memory,cpu',
      EDGEFLEET_COLLECT_CONCURRENCY: '16',
      EDGEFLEET_LOG_LEVEL: 'info',
    };
    // Schema first, so the four do not all wait on the migration lock at their first round.
    (await openPg(pg.url)).close();
    for (let i = 0; i < HUBS; i++) {
      hubs.push(await startHub({ cwd: dir, inventory: join(dir, 'hosts.ini'), db: pg.url, intervalSeconds: INTERVAL_SECONDS, env, until: (l) => l.msg === 'scheduled run' && l.function === 'collectAll', readyMs: 60_000 }));
    }
    // Let the shards settle (each hub's fair share), run half the rounds, then kill one mid-round.
    const deadline = Date.now() + 120_000;
    while (roundsOf(hubs[3]!).length < ROUNDS / 2 && Date.now() < deadline) await sleep(100);
    const victim = hubs[1]!;
    const before = roundsOf(victim).length;
    // Mid-round: just after its round started (a round here takes a few hundred ms).
    while (roundsOf(victim).length === before && Date.now() < deadline) await sleep(10);
    await sleep(INTERVAL_SECONDS * 1000 * 0.1);
    killedShards = (await (await db_()).query<{ name: string }>("SELECT name FROM leases WHERE name LIKE 'shard:%' AND owner IN (SELECT owner FROM leases WHERE name LIKE 'hub:%' AND owner LIKE $1)", [`%:${victim.child.pid}:%`])).map((r) => r.name.slice(6));
    killedAtMs = Date.now();
    victim.child.kill('SIGKILL');
    await victim.exited;
    const survivors = hubs.filter((h) => h !== victim);
    while (survivors.some((h) => collectingRoundsOf(h).length < ROUNDS) && Date.now() < deadline + 120_000) await sleep(100);
    for (const h of survivors) {
      h.child.kill('SIGTERM');
      await h.exited;
    }
  });
  const db_ = async () => (db ??= await openPg(pg.url));
  after(async () => {
    for (const h of hubs) await h.kill();
    await db?.close();
    await pg?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('stores every round a surviving hub ran exactly once, with exactly its shards\' nodes, each once per kind', async () => {
    const d = await db_();
    const rounds = await d.query<{ id: number; hub: string; shards: string; started: number; written: number; nodes: number }>(
      'SELECT id, hub, shards, started_unix_ms AS started, written_unix_ms AS written, nodes FROM rounds ORDER BY id',
    );
    const runs = await d.query<{ round_id: number; name: string; kind: string }>('SELECT c.round_id, n.name, c.kind FROM collector_runs c JOIN nodes n ON n.id = c.node_id');
    const byRound = new Map<number, string[]>();
    for (const r of runs) (byRound.get(r.round_id) ?? byRound.set(r.round_id, []).get(r.round_id)!).push(`${r.name}/${r.kind}`);
    for (const h of hubs.filter((x) => x !== hubs[1])) {
      const pid = h.child.pid;
      const mine = rounds.filter((r) => r.hub?.split(':')[1] === String(pid) && r.nodes > 0);
      const logged = collectingRoundsOf(h);
      assert.ok(logged.length >= ROUNDS, `hub ${pid} ran ${logged.length} rounds`);
      assert.equal(mine.length, logged.length, `hub ${pid}: every round it logged is stored once`);
      for (const r of mine) {
        const want = r.shards.split(',').flatMap((s) => shardNodes(names.map((name) => ({ name })), s).map((x) => x.name)).sort();
        const got = byRound.get(r.id) ?? [];
        assert.equal(got.length, new Set(got).size, 'no node twice in a round');
        assert.deepEqual([...new Set(got.map((x) => x.split('/')[0]!))].sort(), want, `round ${r.id} of hub ${pid} (${r.shards}): its shards' nodes`);
        assert.equal(got.length, want.length * 2, 'memory and cpu for each');
      }
    }
  });

  it('never has two hubs collect the same node at once, and the killed hub\'s shards are taken over', async () => {
    const d = await db_();
    const rounds = await d.query<{ id: number; hub: string; shards: string; started: number; written: number }>(
      'SELECT id, hub, shards, started_unix_ms AS started, written_unix_ms AS written FROM rounds WHERE hub IS NOT NULL ORDER BY started_unix_ms',
    );
    for (let i = 0; i < rounds.length; i++) {
      for (let j = i + 1; j < rounds.length && rounds[j]!.started < rounds[i]!.written; j++) {
        const a = rounds[i]!;
        const b = rounds[j]!;
        if (a.hub === b.hub) continue;
        // '0/1' is no shard (a hub that holds none collects nothing): two such rounds share nothing.
        const shared = a.shards.split(',').filter((s) => s !== '0/1' && b.shards.split(',').includes(s));
        assert.deepEqual(shared, [], `rounds ${a.id} (${a.hub}) and ${b.id} (${b.hub}) overlap in time and share shards`);
      }
    }
    assert.ok(killedShards.length > 0, 'the killed hub held shards');
    const after = rounds.filter((r) => r.started > killedAtMs + 3 * INTERVAL_SECONDS * 1000 + 2000);
    for (const s of killedShards) assert.ok(after.some((r) => r.shards.split(',').includes(s)), `shard ${s} taken over after the kill`);
    // At the end, every shard was collected by someone in the last rounds.
    const last = after.slice(-3 * 3);
    for (let k = 1; k <= HUBS; k++) assert.ok(last.some((r) => r.shards.split(',').includes(`${k}/${HUBS}`)), `shard ${k}/${HUBS} collected at the end`);
  });

  // Each hub ticks rollup and detectAnomalies at its start and each minute: four tries a period,
  // one run (a period the killed hub claimed and never finished is the one that may lack its run).
  for (const [job, msg] of [['rollup', 'rollups'], ['detectAnomalies', 'anomalies']] as const) {
    it(`runs the singleton ${job} once per period across the hubs`, async () => {
      const d = await db_();
      const periods = await d.query<{ period: number; owner: string; finished: number | null }>(
        'SELECT period_unix_seconds AS period, owner, finished_unix_ms AS finished FROM job_runs WHERE job = $1 ORDER BY 1',
        [job],
      );
      const ran = hubs.flatMap((h) => h.logs().filter((l) => l.msg === msg));
      assert.ok(periods.length >= 1);
      assert.equal(new Set(periods.map((p) => p.period)).size, periods.length);
      const finished = periods.filter((p) => p.finished !== null);
      assert.ok(periods.length - finished.length <= 1, `only the killed hub's period may be unfinished: ${JSON.stringify(periods)}`);
      assert.equal(ran.length, finished.length, `${job} ran ${ran.length} times in ${finished.length} finished periods`);
      const tried = hubs.flatMap((h) => h.logs().filter((l) => l.msg === 'scheduled run' && l.function === job));
      assert.ok(tried.length >= HUBS, 'every hub tried');
    });
  }
});
