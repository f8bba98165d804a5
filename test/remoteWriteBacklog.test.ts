/**
 * A merged backlog sent with several requests in flight, to Debian's Prometheus 2.42 through a
 * loopback proxy that sees every request (what it holds, when it starts and ends, what
 * Prometheus answered). Six rounds of 300 series are queued as an outage would leave them,
 * then flushed with maxInFlight 4 and maxSamplesPerSend 100: every sample must be in
 * Prometheus once, each series' samples in order, requests in flight at once must hold
 * disjoint series, and a series' samples must come merged. Then the case no process can rule
 * out: Prometheus takes a merged request but its answer never reaches the hub (the proxy holds
 * it past the hub's timeout); the resend is refused by Prometheus as out of order, and the hub
 * must count it delivered, not dropped.
 */
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { DEFAULT_CONFIG, type Config } from '../shared/config/config.js';
import type { Logger } from '../shared/domain/index.js';
import { flushRemoteWrite, queueRound, remoteWriteEndpoints } from '../shared/prometheus/remoteWrite.js';
import { decodeWriteRequest, encodeLabels, type EncodedSeries } from '../shared/prometheus/writeRequest.js';
import { openDb, remoteWriteStatesOf, type Db } from '../shared/store/index.js';
import { startPrometheus, type Prometheus } from './harness/prometheus.js';

const SERIES = 300;
const ROUNDS = 6;
const PER_SEND = 100;

interface Seen {
  /** Its place in arrival order (what `hold` is given). */
  n: number;
  startMs: number;
  endMs: number;
  status: number;
  /** instance → timestamps of its samples in this request. */
  series: Map<string, number[]>;
}

/** Forwards to Prometheus, records each request; `hold(n)` keeps request n's answer back for that many ms. */
async function proxy(target: string, hold: (n: number) => number) {
  const seen: Seen[] = [];
  let inFlight = 0;
  let maxInFlight = 0;
  let n = 0;
  const server: Server = createServer((req, res) => {
    const k = n++;
    const startMs = Date.now();
    inFlight++;
    maxInFlight = Math.max(maxInFlight, inFlight);
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', async () => {
      const body = Buffer.concat(chunks);
      const series = new Map(decodeWriteRequest(body).timeseries.map((s) => [s.labels.find((l) => l.name === 'instance')!.value, s.samples.map((x) => x.timestamp)]));
      const headers = Object.fromEntries(['content-encoding', 'content-type', 'x-prometheus-remote-write-version'].map((h) => [h, String(req.headers[h])]));
      const r = await fetch(target, { method: 'POST', headers, body, signal: AbortSignal.timeout(10_000) });
      const text = await r.text();
      seen.push({ n: k, startMs, endMs: Date.now(), status: r.status, series });
      const wait = hold(k);
      if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
      inFlight--;
      if (!res.destroyed) res.writeHead(r.status).end(text);
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const url = `http://127.0.0.1:${(server.address() as { port: number }).port}/api/v1/write`;
  return { url, seen, maxInFlight: () => maxInFlight, close: () => new Promise((r) => server.close(r)) };
}

function capture(): Logger & { lines: string[] } {
  const lines: string[] = [];
  const at = (level: string) => (msg: string, fields?: Record<string, unknown>) => void lines.push(`${level} ${msg} ${JSON.stringify(fields ?? {})}`);
  return { lines, debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') };
}

/** Round r of job `job`: series n0…n299 of bench_value, value r·1000 + i, at base + r·10 s. */
function round(job: string, r: number, baseMs: number): EncodedSeries[] {
  return Array.from({ length: SERIES }, (_, i) => ({
    labels: encodeLabels([{ name: '__name__', value: 'bench_value' }, { name: 'instance', value: `n${i}` }, { name: 'job', value: job }]),
    value: r * 1000 + i,
    timestamp: baseMs + r * 10_000,
  }));
}

describe('a merged backlog, several requests in flight, to Prometheus 2.42', () => {
  let dir: string;
  let prom: Prometheus;
  let db: Db;
  const baseMs = (Math.floor(Date.now() / 1000) - 600) * 1000;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'edgefleet-rw-backlog-'));
    prom = await startPrometheus({ dir: join(dir, 'prom'), remoteWriteReceiver: true });
  });
  after(async () => {
    db?.close();
    await prom?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  const run = async (job: string, hold: (n: number) => number) => {
    const p = await proxy(`${prom.url}/api/v1/write`, hold);
    db?.close();
    db = openDb(join(dir, `${job}.db`));
    const config: Config = {
      ...DEFAULT_CONFIG,
      prometheus: { ...DEFAULT_CONFIG.prometheus, maxSamplesPerSend: PER_SEND, remoteWriteTimeoutSeconds: 1, retryMaxSeconds: 1, remoteWrite: [{ url: p.url, maxInFlight: 4 }] },
    };
    const endpoints = remoteWriteEndpoints(config).map((e) => e.name);
    for (let r = 0; r < ROUNDS; r++) await queueRound(db, round(job, r, baseMs), { endpoints, maxSamplesPerSend: PER_SEND, queueMaxSamples: 1e9 });
    const log = capture();
    const [summary] = await flushRemoteWrite({ db, config, log, deadlineMs: Date.now() + 20_000 });
    await p.close();
    return { seen: p.seen, maxInFlight: p.maxInFlight(), summary: summary!, log, state: (await remoteWriteStatesOf(db))[0]! };
  };

  /** What Prometheus holds for the job: instance → [timestamp ms, value][]. */
  const stored = async (job: string) => {
    const r = await prom.query(`bench_value{job="${job}"}[1h]`);
    return new Map(r.map((s) => [s.metric.instance!, s.values!.map(([t, v]) => [Math.round(t * 1000), Number(v)] as [number, number])]));
  };
  const expected = (i: number) => Array.from({ length: ROUNDS }, (_, r) => [baseMs + r * 10_000, r * 1000 + i] as [number, number]);

  it('every sample arrives once and in order; requests in flight at once hold disjoint series', async () => {
    const { seen, maxInFlight, summary, state } = await run('merged', () => 0);
    assert.equal(summary.sentSamples, SERIES * ROUNDS);
    assert.deepEqual([state.queuedSamples, state.droppedSamples, state.sentSamples], [0, 0, SERIES * ROUNDS]);
    // Merged: each request holds whole series, all six rounds of each (100 samples = 16 series × 6).
    assert.ok(seen.every((s) => s.status === 204 && [...s.series.values()].every((t) => t.length === ROUNDS)), JSON.stringify(seen.map((s) => [s.status, s.series.size])));
    assert.equal(seen.length, Math.ceil(SERIES / Math.floor(PER_SEND / ROUNDS)));
    assert.ok(maxInFlight > 1 && maxInFlight <= 4, `at most 4 in flight, and more than one: ${maxInFlight}`);
    for (const a of seen) {
      for (const b of seen) {
        if (a === b || a.endMs <= b.startMs || b.endMs <= a.startMs) continue;
        for (const k of a.series.keys()) assert.ok(!b.series.has(k), `${k} in two requests in flight at once`);
      }
    }
    const got = await stored('merged');
    assert.equal(got.size, SERIES);
    for (let i = 0; i < SERIES; i++) assert.deepEqual(got.get(`n${i}`), expected(i), `n${i}`);
  });

  it('a merged request Prometheus took but whose answer was lost: the resend is refused as out of order, and counted delivered', async () => {
    // Request 2's answer is held past the hub's 1 s timeout: Prometheus has it, the hub does not know.
    const { seen, summary, log, state } = await run('lost', (n) => (n === 2 ? 2500 : 0));
    const resent = seen.filter((s) => s.status === 400);
    assert.equal(resent.length, 1, `one resend, refused: ${JSON.stringify(seen.map((s) => s.status))}`);
    assert.deepEqual([...resent[0]!.series.keys()], [...seen.find((s) => s.n === 2)!.series.keys()], 'the resend is the request whose answer was lost');
    assert.match(log.lines.join('\n'), /a request sent before without an answer was taken then.*out of order/);
    assert.doesNotMatch(log.lines.join('\n'), /rejected, request dropped/);
    assert.deepEqual([summary.sentSamples, summary.droppedSamples, state.droppedSamples, state.queuedSamples], [SERIES * ROUNDS, 0, 0, 0]);
    const got = await stored('lost');
    for (let i = 0; i < SERIES; i++) assert.deepEqual(got.get(`n${i}`), expected(i), `n${i}`);
  });
});
