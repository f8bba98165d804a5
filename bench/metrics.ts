/**
 * bench:metrics — GET /metrics over 1,000 nodes (bench/fleetData.ts's Pis, Jetsons and x86
 * boxes, a few rounds of history each, written through the real ingest path), plus 100,000
 * stored inferences. A new round is written before each repetition; prints the median render
 * time of the first scrape after it, in the text format and in OpenMetrics, and of a second
 * scrape of the same round (served from the body cache), the body size and series count, and
 * as the anchor GET /nodes' query of the same database (latestReadings + listNodes,
 * JSON-serialized) in the same run.
 *
 *   npm run bench:metrics                  # 1,000 nodes
 *   BENCH_NODES=100 npm run bench:metrics
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { inferenceStore, latestReadings, lineKey, listNodes, openDb, readingsWriter, syncNodes } from '../shared/store/index.js';
import { renderMetrics } from '../shared/prometheus/scrape.js';
import { fleetSpecs } from './fleetData.js';
import { promRound } from './promFleet.js';

const NODES = Number(process.env.BENCH_NODES ?? 1000);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 6);
const REPS = Number(process.env.BENCH_REPS ?? 15);
const INFERENCES = Number(process.env.BENCH_INFERENCES ?? 100_000);
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1]!;

const dir = mkdtempSync(join(tmpdir(), 'edgefleet-bench-metrics-'));
try {
  const db = openDb(join(dir, 'edgefleet.db'));
  const fleet = fleetSpecs(NODES);
  const end = Math.floor(Date.now() / 1000);
  syncNodes(db, fleet.map((f) => f.spec), end - ROUNDS * 10);
  for (let k = 0; k < ROUNDS; k++) {
    const { readings, counters, runs } = promRound(fleet, k, end - (ROUNDS - k) * 10);
    readingsWriter(db).writeRound(readings, counters, runs);
  }
  const ids = new Map((db.prepare('SELECT name, id FROM nodes').all() as { name: string; id: number }[]).map((r) => [r.name, r.id]));
  const inf = inferenceStore(db);
  db.transaction(() => {
    for (let i = 0; i < INFERENCES; i++) {
      const node = fleet[i % Math.min(NODES, 200)]!.spec.name;
      inf.insert([{ nodeId: ids.get(node)!, deploymentId: null, model: 'models/yolo', tag: i % 2 ? 'v8' : 'v9', timeUnixMs: (end - 600) * 1000 + i, record: { latencyMs: 5 + (i % 97), batch: 1 }, source: 'push', lineKey: lineKey('bench', i) }]);
    }
  })();

  // Cold: a new round lands before each repetition (new values and timestamps, the body cache
  // invalidated), as Prometheus meets it on its first scrape after a round. Cached: the same
  // format scraped again before the next round (a second Prometheus, a shorter scrape interval).
  const textMs: number[] = [];
  const omMs: number[] = [];
  const cachedMs: number[] = [];
  let body: Buffer = Buffer.alloc(0);
  for (let i = 0; i < REPS; i++) {
    const { readings, counters, runs } = promRound(fleet, ROUNDS + i, end + i * 10);
    readingsWriter(db).writeRound(readings, counters, runs);
    let t0 = performance.now();
    body = (await renderMetrics(db, { openMetrics: false })).body;
    textMs.push(performance.now() - t0);
    t0 = performance.now();
    await renderMetrics(db, { openMetrics: true });
    omMs.push(performance.now() - t0);
    t0 = performance.now();
    if ((await renderMetrics(db, { openMetrics: false })).body !== body) throw new Error('a second scrape of the same round gave another body');
    cachedMs.push(performance.now() - t0);
  }
  const anchor: number[] = [];
  for (let i = 0; i < REPS; i++) {
    const t0 = performance.now();
    const latest = latestReadings(db);
    JSON.stringify(listNodes(db).map(({ vars: _v, ...n }) => ({ ...n, latest: latest.get(n.name) ?? null })));
    anchor.push(performance.now() - t0);
  }
  const [text, om, cached, anchorMs] = [median(textMs), median(omMs), median(cachedMs), median(anchor)];
  const series = body.toString('latin1').split('\n').filter((l) => l && !l.startsWith('#')).length;
  console.log(`/metrics over ${NODES} nodes: ${series} series, ${(body.length / 2 ** 20).toFixed(1)} MiB; first scrape after a round: text median ${text.toFixed(1)} ms, OpenMetrics median ${om.toFixed(1)} ms; same round again: ${cached.toFixed(2)} ms`);
  console.log(`anchor GET /nodes query (latest readings, JSON) over the same database: median ${anchorMs.toFixed(1)} ms → ratio ${(text / anchorMs).toFixed(2)}x`);
  db.close();
  console.log(`bench:metrics nodes=${NODES} render_ms=${text.toFixed(1)} openmetrics_ms=${om.toFixed(1)} cached_ms=${cached.toFixed(2)} series=${series}`);
} finally {
  rmSync(dir, { recursive: true, force: true });
}
