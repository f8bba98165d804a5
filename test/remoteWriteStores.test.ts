/**
 * The remote-write queue on both stores (test/harness/stores.ts: SQLite, and a real PostgreSQL
 * 15), sending to Debian's Prometheus 2.42 through a loopback proxy that records every request.
 * (1) Rounds queued and flushed on the store: every sample in Prometheus once, in order. (2) Two
 * hubs on one store (on PostgreSQL two pools, as two processes see it), each queueing its own
 * nodes' rounds while both flush at once: every sample is accepted exactly once (a row is sent
 * by one hub only), none is lost (a row committed late behind a higher id would be), none is
 * refused as out of order. (3) Two `edgefleet hub`s on one PostgreSQL, through an outage and a crash.
 */
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { DEFAULT_CONFIG, type Config } from '../shared/config/config.js';
import { silentLogger } from '../shared/domain/index.js';
import { flushRemoteWrite, queueRound, remoteWriteEndpoints } from '../shared/prometheus/remoteWrite.js';
import { decodeWriteRequest, encodeLabels, type EncodedSeries } from '../shared/prometheus/writeRequest.js';
import { remoteWriteStatesOf, resolveSeries, seriesLabels } from '../shared/store/remoteWrite.js';
import { openPg, type PgDb } from '../shared/store/pg.js';
import { pgSql } from '../shared/store/pgSql.js';
import type { Store } from '../shared/store/store.js';
import { fakeFleet, tickFleet } from './harness/fakeProc.js';
import { startHub, type HubProcess } from './harness/hub.js';
import { freePort } from './harness/ports.js';
import { postgresAvailable, startPostgres, type TestPostgres } from './harness/postgres.js';
import { rawSamples } from './harness/promChecks.js';
import { startPrometheus, type Prometheus } from './harness/prometheus.js';
import { eachStore } from './harness/stores.js';
import { until } from './harness/until.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const SERIES = 120;
const ROUNDS = 6;
const PER_SEND = 100;

let dir: string;
let prom: Prometheus;
before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'edgefleet-rw-stores-'));
  prom = await startPrometheus({ dir: join(dir, 'prom'), remoteWriteReceiver: true });
});
after(async () => {
  await prom?.stop();
  rmSync(dir, { recursive: true, force: true });
});

/** Forwards to Prometheus; records, per 2xx request, each series' sample times, and every status. */
async function proxy(target: string) {
  const accepted: Map<string, number[]>[] = [];
  const statuses: number[] = [];
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', async () => {
      const body = Buffer.concat(chunks);
      const headers = Object.fromEntries(['content-encoding', 'content-type', 'x-prometheus-remote-write-version'].map((h) => [h, String(req.headers[h])]));
      const r = await fetch(target, { method: 'POST', headers, body, signal: AbortSignal.timeout(10_000) });
      const text = await r.text();
      statuses.push(r.status);
      if (r.status < 300) accepted.push(new Map(decodeWriteRequest(body).timeseries.map((s) => [s.labels.find((l) => l.name === 'instance')!.value, s.samples.map((x) => x.timestamp)])));
      res.writeHead(r.status).end(text);
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const url = `http://127.0.0.1:${(server.address() as { port: number }).port}/api/v1/write`;
  return { url, accepted, statuses, close: () => new Promise((r) => server.close(r)) };
}

/** Round r of `job`'s nodes `prefix`0…: series rw_value, value r·1000 + i, at base + r·10 s. */
function round(job: string, prefix: string, r: number, baseMs: number): EncodedSeries[] {
  return Array.from({ length: SERIES }, (_, i) => ({
    labels: encodeLabels([{ name: '__name__', value: 'rw_value' }, { name: 'instance', value: `${prefix}${i}` }, { name: 'job', value: job }]),
    value: r * 1000 + i,
    timestamp: baseMs + r * 10_000,
  }));
}

let jobs = 0;
eachStore('remote write queue', (k) => {
  const configFor = (url: string): Config => ({
    ...DEFAULT_CONFIG,
    prometheus: { ...DEFAULT_CONFIG.prometheus, maxSamplesPerSend: PER_SEND, remoteWriteTimeoutSeconds: 5, retryMaxSeconds: 1, remoteWrite: [{ url, maxInFlight: 4 }] },
  });
  const baseMs = (Math.floor(Date.now() / 1000) - 600) * 1000;
  const expected = (i: number) => Array.from({ length: ROUNDS }, (_, r) => [baseMs + r * 10_000, r * 1000 + i] as [number, number]);
  /** What Prometheus holds for the job: instance → [timestamp ms, value][]. */
  const stored = async (job: string) => {
    const r = await prom.query(`rw_value{job="${job}"}[1h]`);
    return new Map(r.map((s) => [s.metric.instance!, s.values!.map(([t, v]) => [Math.round(t * 1000), Number(v)] as [number, number])]));
  };
  const stores: Store[] = [];
  after(async () => {
    for (const s of new Set(stores)) await s.close();
  });

  it(`${k.name}: rounds queued in the store arrive in Prometheus, every sample once and in order`, async () => {
    const store = await k.open();
    stores.push(store);
    const job = `one_${k.name}_${++jobs}`;
    const p = await proxy(`${prom.url}/api/v1/write`);
    try {
      const config = configFor(p.url);
      const endpoints = remoteWriteEndpoints(config).map((e) => e.name);
      for (let r = 0; r < ROUNDS; r++) await queueRound(store.sql, round(job, 'n', r, baseMs), { endpoints, maxSamplesPerSend: PER_SEND, queueMaxSamples: 1e9 });
      const [depth] = await remoteWriteStatesOf(store.sql);
      assert.deepEqual([depth!.queuedSamples, depth!.queuedRequests], [SERIES * ROUNDS, Math.ceil(SERIES / PER_SEND) * ROUNDS]);
      const [s] = await flushRemoteWrite({ db: store.sql, config, log: silentLogger, deadlineMs: Date.now() + 20_000 });
      assert.deepEqual([s!.sentSamples, s!.droppedSamples], [SERIES * ROUNDS, 0]);
      assert.ok(p.statuses.every((x) => x === 204), JSON.stringify(p.statuses));
      const got = await stored(job);
      assert.equal(got.size, SERIES);
      for (let i = 0; i < SERIES; i++) assert.deepEqual(got.get(`n${i}`), expected(i), `n${i}`);
      const [after] = await remoteWriteStatesOf(store.sql);
      assert.deepEqual([after!.queuedSamples, after!.sentSamples], [0, SERIES * ROUNDS]);
    } finally {
      await p.close();
    }
  });

  it(`${k.name}: a series keeps its id: found again by a table scan (many unknown) or by its labels' SHA-1 (few, or a big table)`, async () => {
    const store = await k.open();
    stores.push(store);
    const labels = (n: number, from = 0) => Array.from({ length: n }, (_, i) => encodeLabels([{ name: '__name__', value: 'ids' }, { name: 'i', value: String(from + i) }]));
    const refs = (ls: Uint8Array[]) => ls.map((l) => ({ labels: l }));
    const first = await resolveSeries(store.sql, refs(labels(1500)));
    assert.equal(new Set(first).size, 1500, 'distinct ids');
    // Fresh refs (a restarted hub knows none): 1,500 unknown in a table of 1,500 (the scan), then 300 (by SHA-1).
    assert.deepEqual(await resolveSeries(store.sql, refs(labels(1500))), first);
    assert.deepEqual(await resolveSeries(store.sql, refs(labels(300))), first.subarray(0, 300));
    // A table much bigger than what is asked: by SHA-1 again; new series after the known ones.
    await resolveSeries(store.sql, refs(labels(5000, 10_000)));
    const again = await resolveSeries(store.sql, refs([...labels(1500), ...labels(2, 50_000)]));
    assert.deepEqual(again.subarray(0, 1500), first);
    assert.ok(again[1500]! > Math.max(...first) && again[1501]! > again[1500]!);
    assert.deepEqual((await seriesLabels(store.sql, [first[7]!]))[0], labels(1, 7)[0]);
  });

  it(`${k.name}: two hubs on one store queue and flush at once: each sample accepted once, none lost, none out of order`, async () => {
    const [a, b] = await k.openPair();
    stores.push(a, b);
    const job = `two_${k.name}_${++jobs}`;
    const p = await proxy(`${prom.url}/api/v1/write`);
    try {
      const config = configFor(p.url);
      const endpoints = remoteWriteEndpoints(config).map((e) => e.name);
      let queuing = 2;
      const hub = async (store: Store, prefix: string, owner: string) => {
        const flushes = (async () => {
          // Flush as a hub does after each round, until both hubs have queued everything and the queue is empty.
          for (const until = Date.now() + 30_000; ; ) {
            if (Date.now() > until) throw new Error(`${owner}: the queue did not drain in 30 s`);
            await flushRemoteWrite({ db: store.sql, config, log: silentLogger, deadlineMs: Date.now() + 2000, owner });
            if (queuing === 0 && (await remoteWriteStatesOf(store.sql))[0]!.queuedSamples === 0) return;
            await new Promise((r) => setTimeout(r, 5));
          }
        })();
        try {
          for (let r = 0; r < ROUNDS; r++) {
            await queueRound(store.sql, round(job, prefix, r, baseMs), { endpoints, maxSamplesPerSend: PER_SEND, queueMaxSamples: 1e9 });
            await new Promise((res) => setTimeout(res, 3));
          }
        } finally {
          queuing--;
        }
        await flushes;
      };
      // Both run to their end (no pool closed under a hub still flushing), then the first failure counts.
      for (const r of await Promise.allSettled([hub(a, 'a', 'hub-a'), hub(b, 'b', 'hub-b')])) if (r.status === 'rejected') throw r.reason;
      assert.ok(p.statuses.every((x) => x === 204), `every request accepted: ${JSON.stringify(p.statuses)}`);
      // Each (series, time) in exactly one accepted request.
      const seen = new Map<string, number>();
      for (const req of p.accepted) for (const [inst, ts] of req) for (const t of ts) seen.set(`${inst}@${t}`, (seen.get(`${inst}@${t}`) ?? 0) + 1);
      assert.equal(seen.size, 2 * SERIES * ROUNDS, 'every sample sent');
      assert.deepEqual([...seen.values()].filter((n) => n !== 1), [], 'none sent twice');
      const got = await stored(job);
      assert.equal(got.size, 2 * SERIES);
      for (const prefix of ['a', 'b']) for (let i = 0; i < SERIES; i++) assert.deepEqual(got.get(`${prefix}${i}`), expected(i), `${prefix}${i}`);
      const [state] = await remoteWriteStatesOf(a.sql);
      assert.deepEqual([state!.queuedSamples, state!.sentSamples, state!.droppedSamples], [0, 2 * SERIES * ROUNDS, 0]);
    } finally {
      await p.close();
    }
  });
});

/**
 * The whole path on PostgreSQL: two `edgefleet hub`s, shards 1/2 and 2/2 of four local nodes,
 * `store.url` one real PostgreSQL, remote-writing to Prometheus. Prometheus is stopped for
 * several rounds and one hub is killed (SIGKILL) and started again meanwhile; when Prometheus is
 * back, every round PostgreSQL stored of every node is in Prometheus, once, with its value.
 */
describe('two hubs on one PostgreSQL remote-write their shards, through an outage and a hub crash', { skip: postgresAvailable() ? false : 'no PostgreSQL 15 here' }, () => {
  const NODES = ['pg-a', 'pg-b', 'pg-c', 'pg-d'];
  let pg: TestPostgres;
  let pgdb: PgDb;
  let hubDir: string;
  let ticker: NodeJS.Timeout | undefined;
  const hubs: (HubProcess | undefined)[] = [undefined, undefined];
  const ports: number[] = [];
  const startOne = async (i: number) => {
    hubs[i] = await startHub({ cwd: hubDir, port: ports[i]!, args: ['--interval', '1'], env: { EDGEFLEET_CONFIG: join(hubDir, `hub${i}.yaml`), EDGEFLEET_LOG_LEVEL: 'info' } });
  };
  const queued = async () => (await remoteWriteStatesOf(pgSql(pgdb)))[0]?.queuedSamples ?? NaN;
  const stderr = () => hubs.map((h) => h?.stderr() ?? '').join('\n');
  const waitFor = (what: string, ms: number, ok: () => Promise<boolean>) => until(what, ms, ok, { everyMs: 200, detail: () => `${stderr().slice(-3000)}\n${prom.log().slice(-1500)}` });
  /** The rounds PostgreSQL stored for `node`: time (s) → MemAvailable. */
  const storedRounds = async (node: string) =>
    new Map((await pgdb.query<{ time: number; v: number }>('SELECT time, mem_available_bytes AS v FROM memory WHERE node_id = (SELECT id FROM nodes WHERE name = $1) ORDER BY time', [node])).map((r) => [r.time, r.v]));

  before(async () => {
    pg = await startPostgres();
    pgdb = await openPg(pg.url);
    hubDir = mkdtempSync(join(tmpdir(), 'edgefleet-rw-pg-hubs-'));
    const { fakes } = fakeFleet(hubDir, NODES.map((name) => ({ name, groups: ['edge'] })));
    for (let i = 0; i < 2; i++) {
      ports.push(await freePort());
      writeFileSync(
        join(hubDir, `hub${i}.yaml`),
        [
          'inventory: hosts.ini',
          'store:',
          `  url: ${pg.url}`,
          'collect:',
          `  shard: ${i + 1}/2`,
          'prometheus:',
          '  job: pglab',
          '  remoteWriteTimeoutSeconds: 2',
          '  flushSeconds: 0.8',
          '  retryMaxSeconds: 1',
          '  maxSamplesPerSend: 100',
          '  remoteWrite:',
          `    - url: ${prom.url}/api/v1/write`,
        ].join('\n') + '\n',
      );
    }
    await startOne(0);
    await startOne(1);
    ticker = tickFleet(fakes, 400);
    await waitFor('5 rounds of every node in Prometheus', 40_000, async () => {
      const r = await prom.query('min(count_over_time(node_memory_MemAvailable_bytes{job="pglab"}[1h])) and count(node_memory_MemAvailable_bytes{job="pglab"}) == 4');
      return r.length > 0 && Number(r[0]!.value![1]) >= 5;
    });
  });
  after(async () => {
    if (ticker) clearInterval(ticker);
    for (const h of hubs) await h?.kill();
    await pgdb?.close();
    await pg?.close();
    rmSync(hubDir, { recursive: true, force: true });
  });

  it('every round stored in PostgreSQL arrives once, whichever hub queued and sent it', async () => {
    await prom.stop();
    await sleep(3000);
    assert.ok((await queued()) > 0, 'rounds queue up in PostgreSQL while Prometheus is down');
    const before = stderr();
    await hubs[0]!.kill();
    await sleep(500);
    await startOne(0);
    await sleep(2500);
    await prom.start();
    await waitFor('the queue drains', 30_000, async () => (await queued()) === 0);
    clearInterval(ticker);
    ticker = undefined;
    await sleep(1500);
    const stored = new Map<string, Map<number, number>>();
    for (const n of NODES) stored.set(n, await storedRounds(n));
    await waitFor('the last rounds drain', 10_000, async () => (await queued()) === 0);
    for (const n of NODES) {
      const rounds = stored.get(n)!;
      const samples = await rawSamples(prom, `node_memory_MemAvailable_bytes{job="pglab",instance="${n}"}`);
      assert.ok(rounds.size >= 8, `${n}: ${rounds.size} rounds stored`);
      // Every stored round once, in order, with its value (rounds stored after the snapshot may follow).
      assert.deepEqual(samples.slice(0, rounds.size), [...rounds].map(([t, v]) => [t, v]), `${n}: Prometheus = PostgreSQL`);
    }
    const [state] = await remoteWriteStatesOf(pgSql(pgdb));
    assert.equal(state!.droppedSamples, 0);
    assert.match(before + stderr(), /remote write failed, will retry/);
    assert.doesNotMatch(before + stderr(), /remote write rejected|queue full/);
  });
});
