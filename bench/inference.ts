/**
 * bench:inference — ingest throughput of the log path: an engine's multiplexed, timestamped
 * answer → demultiplex → split lines → parse the protocol → rows and cursor in one transaction
 * per container read, into a SQLite file (WAL, as the hub runs it). Rounds of READ lines, as
 * collectInference gets them from one container; 1 line in 20 is not the protocol. Anchor: the
 * same bytes only demultiplexed and split (no parse, no store), in the same run.
 * Last line: `bench:inference lines_per_s=<n>` (median of ROUNDS).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readLogBatch, type LogSource } from '../shared/collect/inference.js';
import { demuxStream, splitTimestampedLines } from '../shared/engine/logs.js';
import { inferenceStore, openDb, syncNodes } from '../shared/store/index.js';

const LINES = Number(process.env.BENCH_LINES ?? 200_000);
const READ = 10_000;
const ROUNDS = 5;

function frame(payload: Buffer): Buffer {
  const h = Buffer.alloc(8);
  h[0] = 1;
  h.writeUInt32BE(payload.length, 4);
  return Buffer.concat([h, payload]);
}

/** One engine answer of READ lines starting at line `from`, one frame per line as Docker sends them. */
function answer(from: number): Buffer {
  const t0 = 1767225600_000_000_000n;
  const frames: Buffer[] = [];
  const labels = ['setosa', 'versicolor', 'virginica'];
  for (let i = from; i < from + READ; i++) {
    const ns = t0 + BigInt(i) * 1_000_123n;
    const ms = ns / 1_000_000n;
    const ts = `${new Date(Number(ms)).toISOString().slice(0, 19)}.${(ns % 1_000_000_000n).toString().padStart(9, '0')}Z`;
    const text =
      i % 20 === 7
        ? `INFO warmup step ${i}`
        : JSON.stringify({ ts: Number(ms), latency_ms: 0.2 + (i % 97) / 100, preprocess_ms: 0.01, infer_ms: 0.15 + (i % 89) / 100, postprocess_ms: 0.004, batch: 1, input_id: `iris-${i % 150}`, label: labels[i % 3], score: 4.78e-5 + (i % 10) / 11, expected: labels[(i * 7) % 3] });
    frames.push(frame(Buffer.from(`${ts} ${text}\n`)));
  }
  return Buffer.concat(frames);
}

const answers = Array.from({ length: LINES / READ }, (_, k) => answer(k * READ));
const bytes = answers.reduce((s, a) => s + a.length, 0);
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

const dir = mkdtempSync(join(tmpdir(), 'edgefleet-bench-inference-'));
try {
  const anchor: number[] = [];
  const full: number[] = [];
  for (let r = 0; r < ROUNDS; r++) {
    let t = performance.now();
    let n = 0;
    for (const a of answers) n += splitTimestampedLines(demuxStream(a, 1)).lines.length;
    anchor.push(n / ((performance.now() - t) / 1000));

    const db = openDb(join(dir, `r${r}.db`));
    syncNodes(db, [{ name: 'jetson-01', groups: [], vars: {}, connection: 'local', host: 'jetson-01', port: 22 }], 1767225600);
    const nodeId = (db.prepare(`SELECT id FROM nodes`).get() as { id: number }).id;
    const src: LogSource = { deploymentId: 'a1b2c3d4e5f6', nodeId, containerId: 'f'.repeat(64), model: 'lab/iris', tag: 'v1' };
    const store = inferenceStore(db);
    let stored = 0;
    t = performance.now();
    for (const a of answers) {
      const b = readLogBatch(a, store.cursor(src), src);
      stored += store.commitLogBatch(src, b.cursor, b.rows, b.counts, 1767225600);
    }
    full.push(LINES / ((performance.now() - t) / 1000));
    if (stored !== LINES - LINES / 20) throw new Error(`stored ${stored} rows, expected ${LINES - LINES / 20}`);
    db.close();
  }
  process.stdout.write(`${LINES} lines (${(bytes / 1e6).toFixed(1)} MB of engine answers, ${READ} lines per read), median of ${ROUNDS} rounds\n`);
  process.stdout.write(`anchor (demux + split only):   ${Math.round(median(anchor))} lines/s\n`);
  process.stdout.write(`demux + split + parse + store: ${Math.round(median(full))} lines/s (${(median(anchor) / median(full)).toFixed(1)}× slower than the anchor)\n`);
  process.stdout.write(`bench:inference lines_per_s=${Math.round(median(full))}\n`);
} finally {
  rmSync(dir, { recursive: true, force: true });
}
