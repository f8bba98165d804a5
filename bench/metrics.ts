/**
 * bench:metrics — GET /metrics over 1,000 nodes (bench/fleetData.ts's Pis, Jetsons and x86
 * boxes, a few rounds of history each, written through the real ingest path), plus 100,000
 * stored inferences. Prints the median render time of the text format and of OpenMetrics, the
 * body size and series count, and as the anchor GET /nodes' query of the same database
 * (latestReadings + listNodes, JSON-serialized) in the same run.
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

  const time = (fn: () => unknown) => {
    const ms: number[] = [];
    for (let i = 0; i < REPS; i++) {
      const t0 = performance.now();
      fn();
      ms.push(performance.now() - t0);
    }
    return median(ms);
  };
  let body = '';
  const textMs = time(() => (body = renderMetrics(db, { openMetrics: false }).body));
  const omMs = time(() => renderMetrics(db, { openMetrics: true }));
  const anchorMs = time(() => {
    const latest = latestReadings(db);
    return JSON.stringify(listNodes(db).map(({ vars: _v, ...n }) => ({ ...n, latest: latest.get(n.name) ?? null })));
  });
  const series = body.split('\n').filter((l) => l && !l.startsWith('#')).length;
  console.log(`/metrics over ${NODES} nodes: ${series} series, ${(body.length / 2 ** 20).toFixed(1)} MiB; text median ${textMs.toFixed(1)} ms, OpenMetrics median ${omMs.toFixed(1)} ms`);
  console.log(`anchor GET /nodes query (latest readings, JSON) over the same database: median ${anchorMs.toFixed(1)} ms → ratio ${(textMs / anchorMs).toFixed(2)}x`);
  db.close();
  console.log(`bench:metrics nodes=${NODES} render_ms=${textMs.toFixed(1)} openmetrics_ms=${omMs.toFixed(1)} series=${series}`);
} finally {
  rmSync(dir, { recursive: true, force: true });
}
