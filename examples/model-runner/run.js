#!/usr/bin/env node
/**
 * The reference model at run time: loads model.onnx with onnxruntime-node and classifies the
 * held-out Iris rows (heldout.json, written by train.js), printing edgefleet's inference protocol
 * (docs/inference-protocol.md): one JSON line per inference on stdout, everything else on stderr.
 *
 * Modes (MLPerf's scenarios), by --mode or MODEL_MODE:
 *   single-stream  one query after another, --interval-ms / MODEL_INTERVAL_MS apart (default 0);
 *                  every line carries label, score and expected, so edgefleet computes accuracy.
 *   offline        batches of --batch / MODEL_BATCH rows (default 8) as fast as possible; a line
 *                  per batch (batch = its rows); label/score/expected only when batch is 1
 *                  (the top-1 of every row is in `labels`, its truth in `expecteds`).
 * --passes / MODEL_PASSES: how many times over the held-out rows (default 1; 0 = until stopped).
 * When done it idles (MODEL_EXIT_WHEN_DONE=1: exits 0 instead), so a restart policy does not
 * replay it. SIGTERM / SIGINT: the inference in flight finishes, then exit 0.
 */
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import ort from 'onnxruntime-node';

const here = dirname(fileURLToPath(import.meta.url));

function option(name, envName, fallback) {
  const i = process.argv.indexOf(`--${name}`);
  if (i > 0 && process.argv[i + 1] !== undefined) return process.argv[i + 1];
  const eq = process.argv.find((a) => a.startsWith(`--${name}=`));
  if (eq) return eq.slice(name.length + 3);
  return process.env[envName] ?? fallback;
}
function count(name, envName, fallback, min) {
  const v = Number(option(name, envName, String(fallback)));
  if (!Number.isInteger(v) || v < min) {
    console.error(`run: --${name} / ${envName} must be an integer >= ${min}`);
    process.exit(2);
  }
  return v;
}

const mode = option('mode', 'MODEL_MODE', 'single-stream');
if (mode !== 'single-stream' && mode !== 'offline') {
  console.error(`run: unknown mode ${JSON.stringify(mode)} (single-stream or offline)`);
  process.exit(2);
}
const intervalMs = count('interval-ms', 'MODEL_INTERVAL_MS', 0, 0);
const batchSize = mode === 'offline' ? count('batch', 'MODEL_BATCH', 8, 1) : 1;
const passes = count('passes', 'MODEL_PASSES', 1, 0);
const modelFile = option('model', 'MODEL_FILE', join(here, 'model.onnx'));
const dataFile = option('data', 'MODEL_DATA', join(here, 'heldout.json'));
const exitWhenDone = option('exit-when-done', 'MODEL_EXIT_WHEN_DONE', '0') === '1';

let stopping = false;
let wake = () => {};
const stop = () => {
  stopping = true;
  wake();
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
const sleep = (ms) =>
  new Promise((resolve) => {
    const t = setTimeout(resolve, ms);
    wake = () => {
      clearTimeout(t);
      resolve();
    };
  });
// A reader that went away (| head) ends the run quietly.
process.stdout.on('error', (e) => process.exit(e.code === 'EPIPE' ? 0 : 1));
const nowMs = () => performance.timeOrigin + performance.now();
const round = (v) => Math.round(v * 1000) / 1000;

const { classes, rows } = JSON.parse(readFileSync(dataFile, 'utf8'));
const session = await ort.InferenceSession.create(modelFile, { intraOpNumThreads: 1, interOpNumThreads: 1 });
const [inputName] = session.inputNames;
const [outputName] = session.outputNames;
const k = classes.length;
console.error(`run: ${modelFile} (${inputName} -> ${outputName}), ${rows.length} rows, mode ${mode}, batch ${batchSize}, interval ${intervalMs} ms, passes ${passes || 'until stopped'}`);

async function infer(batch) {
  const t0 = performance.now();
  const input = new ort.Tensor('float32', Float32Array.from(batch.flatMap((r) => r.x)), [batch.length, batch[0].x.length]);
  const t1 = performance.now();
  const out = await session.run({ [inputName]: input });
  const t2 = performance.now();
  const probs = out[outputName].data;
  const top = batch.map((_, n) => {
    let best = 0;
    for (let c = 1; c < k; c++) if (probs[n * k + c] > probs[n * k + best]) best = c;
    return { label: classes[best], score: probs[n * k + best] };
  });
  const t3 = performance.now();
  const line = { ts: round(nowMs()), latency_ms: round(t3 - t0), preprocess_ms: round(t1 - t0), infer_ms: round(t2 - t1), postprocess_ms: round(t3 - t2), batch: batch.length };
  if (batch.length === 1) Object.assign(line, { input_id: batch[0].id, label: top[0].label, score: round(top[0].score * 1e6) / 1e6, expected: batch[0].expected });
  else Object.assign(line, { input_id: `${batch[0].id}..${batch[batch.length - 1].id}`, labels: top.map((t) => t.label), expecteds: batch.map((r) => r.expected) });
  process.stdout.write(JSON.stringify(line) + '\n');
}

let done = 0;
for (let pass = 0; !stopping && (passes === 0 || pass < passes); pass++) {
  for (let i = 0; !stopping && i < rows.length; i += batchSize) {
    try {
      await infer(rows.slice(i, i + batchSize));
    } catch (e) {
      process.stdout.write(JSON.stringify({ ts: round(nowMs()), error: String(e.message ?? e).slice(0, 500), batch: Math.min(batchSize, rows.length - i) }) + '\n');
    }
    done++;
    if (mode === 'single-stream' && intervalMs > 0 && !stopping) await sleep(intervalMs);
  }
}
console.error(`run: ${done} inferences${stopping ? ', stopped' : ''}`);
if (!stopping && !exitWhenDone) {
  // Idle until stopped: a restart policy must not replay the run.
  await new Promise((resolve) => {
    const keep = setInterval(() => {}, 1 << 30);
    wake = () => {
      clearInterval(keep);
      resolve();
    };
    if (stopping) wake();
  });
}
await session.release?.();
process.exit(0);
