/**
 * bench:remote-write — 1,000 nodes' rounds (bench/fleetData.ts shapes plus raw counters,
 * bench/promFleet.ts) through edgefleet's whole remote-write path into a local Prometheus 2.42
 * (--web.enable-remote-write-receiver, started here): series built from the round as
 * collectRound hands it over, queued in SQLite in rows of prometheus.maxSamplesPerSend (one
 * transaction a round; the series ids looked up in remote_write_series, filled by an earlier
 * run, as by a restarted hub: creating them, once per series, is timed on a line of its own), then flushed: rows merged per series into requests of disjoint series,
 * 4 in flight (lease, state of each request, POST, answer). (a) The backlog: every round
 * queued, then flushed, as at the end of an outage (the last line's figures); (b) round by
 * round: queue a round, flush it. The anchors, in the same run: the same rounds encoded
 * beforehand and POSTed straight to the same Prometheus, 4 requests in flight, (1) one sample
 * per series per request, (2) all rounds of a series in one request: what Prometheus alone
 * ingests on this machine, and its own CPU per sample (from /proc), which a loaded machine
 * inflates less than wall time. Prints samples/s, hub CPU (this process, user + system) and
 * Prometheus CPU per sample; last line:
 *   bench:remote-write samples_per_s=<n> hub_cpu_us_per_sample=<n>
 *
 *   npm run bench:remote-write               # 1,000 nodes × 8 rounds
 *   BENCH_NODES=200 BENCH_ROUNDS=4 npm run bench:remote-write
 *   BENCH_STORE=postgres npm run bench:remote-write   # the queue in PostgreSQL
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { availableParallelism, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { DEFAULT_CONFIG, type Config } from '../shared/config/config.js';
import { silentLogger } from '../shared/domain/index.js';
import { DEFAULT_MAX_IN_FLIGHT, flushRemoteWrite, queueRound, remoteWriteEndpoints, roundSeries } from '../shared/prometheus/remoteWrite.js';
import { encodeQueueRow, mergeQueueRows, roundBatch, splitBatch } from '../shared/prometheus/backlog.js';
import { encodeSeriesRequest, REMOTE_WRITE_HEADERS } from '../shared/prometheus/writeRequest.js';
import { openDb, resolveSeries } from '../shared/store/index.js';
import { openPgStore } from '../shared/store/pgStore.js';
import type { SqlDb } from '../shared/store/sql.js';
import { sqliteSql } from '../shared/store/sqliteSql.js';
import { startPostgres, type TestPostgres } from '../test/harness/postgres.js';
import { startPrometheus } from '../test/harness/prometheus.js';
import { fleetSpecs } from './fleetData.js';
import { promRound } from './promFleet.js';

const NODES = Number(process.env.BENCH_NODES ?? 1000);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 8);
const PER_SEND = Number(process.env.BENCH_SAMPLES_PER_SEND ?? DEFAULT_CONFIG.prometheus.maxSamplesPerSend);
const ANCHOR_IN_FLIGHT = 4;
/** BENCH_STORE=postgres: the queue in a real PostgreSQL 15 started here (test/harness/postgres.ts, a durable server), not a SQLite file. */
const ON_PG = process.env.BENCH_STORE === 'postgres';

const cpuUs = () => {
  const c = process.cpuUsage();
  return c.user + c.system;
};

const dir = mkdtempSync(join(tmpdir(), 'edgefleet-bench-rw-'));
const prom = await startPrometheus({ dir: join(dir, 'prom'), remoteWriteReceiver: true });
let pg: TestPostgres | undefined;
const urls = new Map<string, string>();
/** A connection to `job`'s queue: a SQLite file, or a pool on its PostgreSQL database (a second one is a fresh connection, as after a restart). */
const openQueue = async (job: string): Promise<{ sql: SqlDb; close: () => Promise<void> }> => {
  if (!ON_PG) {
    const db = openDb(join(dir, `${job}.db`));
    return { sql: sqliteSql(db), close: async () => void db.close() };
  }
  pg ??= await startPostgres({ server: { shared_buffers: '256MB' } });
  const url = urls.get(job) ?? pg.createDatabase(`queue_${job}`);
  urls.set(job, url);
  const store = await openPgStore(url);
  return { sql: store.sql, close: () => store.close() };
};
try {
  const fleet = fleetSpecs(NODES);
  const specs = fleet.map((f) => f.spec);
  const end = Math.floor(Date.now() / 1000);
  const rounds = Array.from({ length: ROUNDS }, (_, k) => {
    const time = end - (ROUNDS - k) * 10;
    const r = promRound(fleet, k, time);
    return { timeUnixSeconds: time, readings: r.readings, counters: r.counters, runs: r.runs, statuses: specs.map((s) => ({ node: s.name, status: 'up' as const })) };
  });

  // Anchors: what Prometheus alone ingests here, its own CPU per sample (from /proc) beside the
  // wall time. Requests are encoded before the clock starts and POSTed 4 at a time (the
  // requests of one round hold disjoint series, so order per series is kept). Each anchor has
  // its own job label: its own series, created in its first round as edgefleet's are.
  const post = async (payload: Buffer) => {
    const res = await fetch(`${prom.url}/api/v1/write`, { method: 'POST', headers: REMOTE_WRITE_HEADERS, body: new Blob([new Uint8Array(payload)]), signal: AbortSignal.timeout(60_000) });
    if (res.status >= 300) throw new Error(`anchor: HTTP ${res.status} ${await res.text()}`);
    await res.arrayBuffer();
  };
  const replay = async (batches: Buffer[][], samples: number) => {
    const p0 = prom.cpuMicros();
    const t0 = performance.now();
    for (const batch of batches) {
      const queue = [...batch];
      await Promise.all(Array.from({ length: ANCHOR_IN_FLIGHT }, async () => {
        for (let b; (b = queue.shift()); ) await post(b);
      }));
    }
    const s = (performance.now() - t0) / 1000;
    return { perS: samples / s, promUs: (prom.cpuMicros() - p0) / samples };
  };
  // (1) One sample per series per request (as edgefleet sends a round), a round's requests after the previous round's.
  let oneSamples = 0;
  const oneRequests = rounds.map((round) => {
    const series = roundSeries(round, specs, 'anchor');
    const n = series.labels.length;
    oneSamples += n;
    const out: Buffer[] = [];
    for (let i = 0; i < n; i += PER_SEND) out.push(encodeSeriesRequest(roundBatch(series, i, Math.min(n, i + PER_SEND))));
    return out;
  });
  const one = await replay(oneRequests, oneSamples);
  // (2) The same rounds with every series' samples together (each series once per request, all
  // its rounds in it): Prometheus then reads a series' labels and finds it once per request.
  const merged = mergeQueueRows(rounds.map((round, k) => {
    const s = roundSeries(round, specs, 'anchor_merged');
    return { payload: encodeQueueRow(s), samples: s.labels.length, round: k };
  }));
  const mergedBatch = splitBatch(merged, PER_SEND).map((r) => encodeSeriesRequest(merged, r.from, r.to));
  const all = await replay([mergedBatch], merged.values.length);

  // edgefleet: build, queue in SQLite (one transaction per round), flush. (a) The backlog: all
  // rounds queued, then flushed (merged per series, 4 in flight): an outage's end. (b) Round by
  // round, as a hub runs: queue a round, flush it (one sample per series, 4 in flight).
  const edgefleet = async (job: string, byRound: boolean) => {
    // The hub has run before (its series are in remote_write_series) and was restarted: the
    // measured rounds look their ids up in the store (a fresh connection: nothing cached), as
    // at the end of an outage. What a series new to the store costs once is timed apart.
    const before = await openQueue(job);
    const f0 = performance.now();
    const c0new = cpuUs();
    const fresh = roundSeries(rounds[0]!, specs, job).refs;
    await resolveSeries(before.sql, fresh);
    const firstMs = performance.now() - f0;
    const firstCpuUs = (cpuUs() - c0new) / fresh.length;
    await before.close();
    const queue = await openQueue(job);
    const db = queue.sql;
    const config: Config = { ...DEFAULT_CONFIG, prometheus: { ...DEFAULT_CONFIG.prometheus, job, maxSamplesPerSend: PER_SEND, remoteWrite: [{ url: `${prom.url}/api/v1/write` }] } };
    const endpoints = remoteWriteEndpoints(config).map((e) => e.name);
    const flush = async () => (await flushRemoteWrite({ db, config, log: silentLogger, deadlineMs: Date.now() + 600_000 }))[0]!.sentSamples;
    let samples = 0;
    let sent = 0;
    const t0 = performance.now();
    const c0 = cpuUs();
    const p0 = prom.cpuMicros();
    for (const round of rounds) {
      const series = roundSeries(round, specs, job);
      samples += series.values.length;
      await queueRound(db, series, { endpoints, maxSamplesPerSend: PER_SEND, queueMaxSamples: config.prometheus.queueMaxSamples });
      if (byRound) sent += await flush();
    }
    const queuedS = (performance.now() - t0) / 1000;
    if (!byRound) sent += await flush();
    const totalS = (performance.now() - t0) / 1000;
    const cpu = (cpuUs() - c0) / samples;
    const promUs = (prom.cpuMicros() - p0) / samples;
    if (sent !== samples) throw new Error(`${job}: sent ${sent} of ${samples} samples`);
    const series = await prom.query(`count(node_load1{job="${job}"})`);
    await queue.close();
    return { samples, totalS, queuedS, rate: samples / totalS, cpu, promUs, series: series[0]?.value?.[1], newSeries: fresh.length, firstMs, firstCpuUs };
  };
  const backlog = await edgefleet('edgefleet', false);
  const steady = await edgefleet('edgefleet_rounds', true);

  const cores = availableParallelism();
  console.log(`${NODES} nodes × ${ROUNDS} rounds = ${backlog.samples} samples, requests of at most ${PER_SEND}, ${DEFAULT_MAX_IN_FLIGHT} in flight; Prometheus holds ${backlog.series} node_load1 series`);
  console.log(`anchor, Prometheus alone, one sample per series per request: ${Math.round(one.perS)} samples/s, Prometheus CPU ${one.promUs.toFixed(2)} µs/sample (at most ${Math.round((cores * 1e6) / one.promUs)} samples/s on ${cores} idle cores)`);
  console.log(`anchor, Prometheus alone, ${ROUNDS} samples per series per request: ${Math.round(all.perS)} samples/s, Prometheus CPU ${all.promUs.toFixed(2)} µs/sample (at most ${Math.round((cores * 1e6) / all.promUs)} samples/s on ${cores} idle cores)`);
  console.log(`edgefleet round by round (queue a round, flush it): ${steady.totalS.toFixed(2)} s → ${Math.round(steady.rate)} samples/s, hub CPU ${steady.cpu.toFixed(2)} µs/sample, Prometheus CPU ${steady.promUs.toFixed(2)} µs/sample → edgefleet/anchor(one) ${(steady.rate / one.perS).toFixed(2)}x`);
  console.log(`edgefleet backlog (${ROUNDS} rounds queued, then flushed merged): ${backlog.totalS.toFixed(2)} s (queued in ${backlog.queuedS.toFixed(2)} s) → ${Math.round(backlog.rate)} samples/s, hub CPU ${backlog.cpu.toFixed(2)} µs/sample, Prometheus CPU ${backlog.promUs.toFixed(2)} µs/sample → edgefleet/anchor(${ROUNDS}) ${(backlog.rate / all.perS).toFixed(2)}x`);
  console.log(`series new to the store (once, not in the figures above: the first round a hub ever queues): ${backlog.newSeries} in ${(backlog.firstMs / 1000).toFixed(2)} s, hub CPU ${backlog.firstCpuUs.toFixed(2)} µs/series`);
  console.log(`load average ${loadavg().map((l) => l.toFixed(1)).join(' ')} on ${cores} cores`);
  if (ON_PG) console.log(`store: PostgreSQL 15 (durable settings, test/harness/postgres.ts), server CPU ${pg!.cpuSeconds().toFixed(1)} s in all`);
  console.log(`bench:remote-write samples_per_s=${Math.round(backlog.rate)} hub_cpu_us_per_sample=${backlog.cpu.toFixed(2)}`);
} finally {
  await pg?.close();
  await prom.stop();
  rmSync(dir, { recursive: true, force: true });
}
