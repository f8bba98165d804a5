/**
 * bench:queries — 7 days of 10-second rounds for 100 nodes written through the real ingest path
 * (ReadingsWriter.writeRound, one transaction per round, the rollup handler's updateRollups once
 * a simulated minute), then every SQL target of every provisioned dashboard, expanded as Grafana
 * and the SQLite plugin would, over 1 h, 24 h and 7 d ranges ending at the last round.
 * Prints p95 latencies per range, with the same panels run on raw tables only as the anchor,
 * and the database's bytes per stored sample (file size / numeric values written).
 *
 *   npm run bench:queries                # 7 days, 100 nodes (about 45 minutes, 10 GB of disk)
 *   BENCH_DAYS=1 BENCH_NODES=20 npm run bench:queries
 *   BENCH_DB=/tmp/q.db npm run bench:queries    # keep the database; a second run skips the ingest
 */
import { existsSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openDb, readingsWriter, syncNodes, updateRollups } from '../shared/store/index.js';
import { fleetSpecs, nodeReadings, valuesIn } from './fleetData.js';
import { dashboardTargets, expandTarget } from '../test/grafana/bench.js';

const DAYS = Number(process.env.BENCH_DAYS ?? 7);
const NODES = Number(process.env.BENCH_NODES ?? 100);
const REPS = Number(process.env.BENCH_REPS ?? 5);
const STEP_SECONDS = 10;

const p95 = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.ceil(xs.length * 0.95) - 1)]!;
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1]!;

const keep = process.env.BENCH_DB;
const dir = keep ? undefined : mkdtempSync(join(tmpdir(), 'edgefleet-bench-queries-'));
const path = keep ?? join(dir!, 'edgefleet.db');
const reuse = keep !== undefined && existsSync(keep);
try {
  const db = openDb(path);
  const fleet = fleetSpecs(NODES);
  const rounds = Math.round((DAYS * 86400) / STEP_SECONDS);
  // A kept database remembers where its data ends.
  const end = reuse ? (db.prepare("SELECT done_until_unix_seconds AS t FROM rollup_state WHERE level = 'ingest'").get() as { t: number }).t : Math.floor(Date.now() / 1000 / 3600) * 3600;
  const start = end - rounds * STEP_SECONDS;
  if (!reuse) syncNodes(db, fleet.map((f) => f.spec), start);

  // Ingest, as the hub would: a round every 10 s, the rollup handler every minute.
  const writer = readingsWriter(db);
  let values = reuse ? Number(process.env.BENCH_VALUES ?? NaN) : 0;
  const t0 = performance.now();
  const roundMs: number[] = [];
  for (let k = 0; k < (reuse ? 0 : rounds); k++) {
    const time = start + k * STEP_SECONDS;
    const batch = fleet.map((f, i) => nodeReadings(f.spec.name, f.shape, i, k, time));
    for (const r of batch) values += valuesIn(r);
    const r0 = performance.now();
    writer.writeRound(batch, [], []);
    roundMs.push(performance.now() - r0);
    if (k % 6 === 5) await updateRollups(db, time);
    if (k % 8640 === 8639) process.stderr.write(`  ingested day ${(k + 1) / 8640} of ${DAYS} (${((performance.now() - t0) / 1000).toFixed(0)} s)\n`);
  }
  if (!reuse) {
    await updateRollups(db, end + 3600);
    db.prepare("INSERT INTO rollup_state VALUES ('ingest', ?)").run(end);
  }
  db.pragma('wal_checkpoint(TRUNCATE)');
  const ingestSeconds = (performance.now() - t0) / 1000;
  const bytes = statSync(path).size;
  const bytesPerSample = bytes / values;
  console.log(
    (reuse ? `ingest: reused ${path}` : `ingest: ${NODES} nodes × ${rounds} rounds in ${ingestSeconds.toFixed(0)} s (round write median ${median(roundMs).toFixed(2)} ms, p95 ${p95(roundMs).toFixed(2)} ms)`) +
      `; ${(bytes / 2 ** 20).toFixed(0)} MiB for ${values} samples = ${bytesPerSample.toFixed(2)} bytes/sample (rollups included)`,
  );

  // Queries: every dashboard target, every range, REPS times; the anchor runs them on raw tables only.
  const targets = dashboardTargets();
  const ranges = [
    ['1h', 3600],
    ['24h', 86400],
    ['7d', 7 * 86400],
  ] as const;
  const results: Record<string, number> = {};
  for (const [name, seconds] of ranges) {
    const fromMs = (end - seconds) * 1000;
    const toMs = end * 1000;
    const lat: number[] = [];
    const anchor: number[] = [];
    const perTarget = new Map<string, number[]>();
    for (const t of targets) {
      // The anchor (raw tables only) runs once: over a week of 100 nodes one query takes seconds.
      for (const [sink, rawOnly, reps] of [[lat, false, REPS], [anchor, true, 1]] as const) {
        const stmt = db.prepare(expandTarget(t, { fromMs, toMs, nodes: fleet.map((f) => f.spec.name), rawOnly }));
        for (let i = 0; i < reps; i++) {
          const q0 = performance.now();
          stmt.all();
          const ms = performance.now() - q0;
          sink.push(ms);
          if (!rawOnly) perTarget.set(`${t.dashboard} / ${t.panel}`, [...(perTarget.get(`${t.dashboard} / ${t.panel}`) ?? []), ms]);
        }
      }
    }
    results[name] = p95(lat);
    console.log(
      `queries ${name.padStart(3)}: ${targets.length} targets × ${REPS}: p95 ${p95(lat).toFixed(1)} ms, median ${median(lat).toFixed(1)} ms; ` +
        `raw tables only (the anchor, same panels, once each): p95 ${p95(anchor).toFixed(1)} ms → ratio ${(p95(anchor) / p95(lat)).toFixed(1)}x`,
    );
    const slowest = [...perTarget].map(([k, v]) => [k, median(v)] as const).sort((a, b) => b[1] - a[1]).slice(0, 3);
    console.log(`  slowest medians: ${slowest.map(([k, v]) => `${k} ${v.toFixed(1)} ms`).join('; ')}`);
  }
  db.close();
  console.log(`bench:queries p95_1h=${results['1h']!.toFixed(1)} p95_24h=${results['24h']!.toFixed(1)} p95_7d=${results['7d']!.toFixed(1)} bytes_per_sample=${bytesPerSample.toFixed(2)}`);
} finally {
  if (dir) rmSync(dir, { recursive: true, force: true });
}
