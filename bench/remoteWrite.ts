/**
 * bench:remote-write — 1,000 nodes' rounds (bench/fleetData.ts shapes plus raw counters,
 * bench/promFleet.ts) through edgefleet's whole remote-write path into a local Prometheus 2.42
 * (--web.enable-remote-write-receiver, started here): series built from the round as
 * collectRound hands it over, encoded (protobufjs) and compressed (snappy) into requests of
 * prometheus.maxSamplesPerSend, queued in SQLite in a transaction, then flushed (lease, POST,
 * ack per request). The anchor, in the same run: the same rounds encoded and POSTed straight to
 * the same Prometheus, no queue (what Prometheus itself ingests). Prints samples/s and hub CPU
 * (this process, user + system) per sample for both; last line:
 *   bench:remote-write samples_per_s=<n> hub_cpu_us_per_sample=<n>
 *
 *   npm run bench:remote-write               # 1,000 nodes × 8 rounds
 *   BENCH_NODES=200 BENCH_ROUNDS=4 npm run bench:remote-write
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DEFAULT_CONFIG, type Config } from '../shared/config/config.js';
import { silentLogger } from '../shared/domain/index.js';
import { flushRemoteWrite, remoteWriteEndpoints, remoteWriteRequests, roundSeries } from '../shared/prometheus/remoteWrite.js';
import { enqueueRemoteWrite, openDb } from '../shared/store/index.js';
import { startPrometheus } from '../test/harness/prometheus.js';
import { fleetSpecs } from './fleetData.js';
import { promRound } from './promFleet.js';

const NODES = Number(process.env.BENCH_NODES ?? 1000);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 8);
const PER_SEND = Number(process.env.BENCH_SAMPLES_PER_SEND ?? DEFAULT_CONFIG.prometheus.maxSamplesPerSend);

const cpuUs = () => {
  const c = process.cpuUsage();
  return c.user + c.system;
};

const dir = mkdtempSync(join(tmpdir(), 'edgefleet-bench-rw-'));
const prom = await startPrometheus({ dir: join(dir, 'prom'), remoteWriteReceiver: true });
try {
  const fleet = fleetSpecs(NODES);
  const specs = fleet.map((f) => f.spec);
  const end = Math.floor(Date.now() / 1000);
  const rounds = Array.from({ length: ROUNDS }, (_, k) => {
    const time = end - (ROUNDS - k) * 10;
    const r = promRound(fleet, k, time);
    return { timeUnixSeconds: time, readings: r.readings, counters: r.counters, runs: r.runs, statuses: specs.map((s) => ({ node: s.name, status: 'up' as const })) };
  });

  // Anchor: encode and POST, nothing else (its own job label: other series than edgefleet's).
  let anchorSamples = 0;
  const a0 = performance.now();
  const ac0 = cpuUs();
  for (const round of rounds) {
    for (const req of remoteWriteRequests(roundSeries(round, specs, 'anchor'), PER_SEND, Date.now())) {
      const res = await fetch(`${prom.url}/api/v1/write`, {
        method: 'POST',
        headers: { 'content-encoding': 'snappy', 'content-type': 'application/x-protobuf', 'x-prometheus-remote-write-version': '0.1.0' },
        body: new Blob([new Uint8Array(req.payload)]),
        signal: AbortSignal.timeout(30_000),
      });
      if (res.status >= 300) throw new Error(`anchor: HTTP ${res.status} ${await res.text()}`);
      await res.arrayBuffer();
      anchorSamples += req.samples;
    }
  }
  const anchorS = (performance.now() - a0) / 1000;
  const anchorCpu = (cpuUs() - ac0) / anchorSamples;

  // edgefleet: build, encode, queue in SQLite (one transaction per round), flush.
  const db = openDb(join(dir, 'edgefleet.db'));
  const config: Config = { ...DEFAULT_CONFIG, prometheus: { ...DEFAULT_CONFIG.prometheus, job: 'edgefleet', maxSamplesPerSend: PER_SEND, remoteWrite: [{ url: `${prom.url}/api/v1/write` }] } };
  const endpoints = remoteWriteEndpoints(config).map((e) => e.name);
  let samples = 0;
  const t0 = performance.now();
  const c0 = cpuUs();
  for (const round of rounds) {
    const requests = remoteWriteRequests(roundSeries(round, specs, 'edgefleet'), PER_SEND, Date.now());
    samples += requests.reduce((n, r) => n + r.samples, 0);
    db.transaction(() => enqueueRemoteWrite(db, requests, endpoints, config.prometheus.queueMaxSamples))();
  }
  const queuedS = (performance.now() - t0) / 1000;
  const [flushed] = await flushRemoteWrite({ db, config, log: silentLogger, deadlineMs: Date.now() + 600_000 });
  const totalS = (performance.now() - t0) / 1000;
  const cpu = (cpuUs() - c0) / samples;
  if (flushed!.sentSamples !== samples) throw new Error(`sent ${flushed!.sentSamples} of ${samples} samples: ${JSON.stringify(flushed)}`);
  const check = await prom.query('count(node_load1{job="edgefleet"})');
  db.close();

  const rate = samples / totalS;
  console.log(`${NODES} nodes × ${ROUNDS} rounds = ${samples} samples in requests of ${PER_SEND}; Prometheus holds ${check[0]?.value?.[1]} node_load1 series`);
  console.log(`edgefleet: ${totalS.toFixed(2)} s (queued in ${queuedS.toFixed(2)} s) → ${Math.round(rate)} samples/s, hub CPU ${cpu.toFixed(2)} µs/sample`);
  console.log(`anchor (encode + POST, no queue): ${anchorS.toFixed(2)} s → ${Math.round(anchorSamples / anchorS)} samples/s, hub CPU ${anchorCpu.toFixed(2)} µs/sample → ratio ${(rate / (anchorSamples / anchorS)).toFixed(2)}x`);
  console.log(`bench:remote-write samples_per_s=${Math.round(rate)} hub_cpu_us_per_sample=${cpu.toFixed(2)}`);
} finally {
  await prom.stop();
  rmSync(dir, { recursive: true, force: true });
}
