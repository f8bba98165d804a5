/**
 * The reference model end to end (examples/model-runner): trained on Iris in plain JS, exported
 * to ONNX, packaged as an OCI image with no base image (node, its libraries, onnxruntime-node's
 * linux/x64 CPU binding, the model), pushed through the registry API to Debian's docker-registry,
 * deployed by edgefleet to a Podman test node over SSH, its protocol lines collected into the
 * database: latencies plausible, and the accuracy edgefleet computes equal to the accuracy the
 * training script reported on the same held-out rows.
 *
 * Skipped when examples/model-runner/node_modules is absent (its own install:
 * `cd examples/model-runner && ONNXRUNTIME_NODE_INSTALL_CUDA=skip npm ci`).
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { inventoryNodes } from '../shared/collect/collection.js';
import { collectInference } from '../shared/collect/inference.js';
import { inferenceStats } from '../shared/collect/inferenceStats.js';
import type { Config } from '../shared/config/config.js';
import { createDeployment, parseDeployRequest, runDeployment } from '../shared/deploy/index.js';
import { silentLogger } from '../shared/domain/index.js';
import { openDb, syncNodes } from '../shared/store/index.js';
import { TransportPool } from '../shared/transport/pool.js';
import type { PodmanEngine } from './harness/podman.js';
import type { TestRegistry } from './harness/registry.js';
import { startModelLab, type ModelLab } from './harness/modelLab.js';

const run = promisify(execFile);
const RUNNER = resolve(import.meta.dirname, '../examples/model-runner');
const installed = existsSync(join(RUNNER, 'node_modules', 'onnxruntime-node', 'bin', 'napi-v6', 'linux', 'x64', 'onnxruntime_binding.node'));
const skip = installed ? false : 'examples/model-runner/node_modules is absent: run (cd examples/model-runner && ONNXRUNTIME_NODE_INSTALL_CUDA=skip npm ci)';
const onX64 = process.platform === 'linux' && process.arch === 'x64';
const REPO = 'lab/iris';

interface TrainReport {
  test: number;
  correct: number;
  accuracy: number;
  onnxMaxAbsDiff: number;
}
interface Packaged {
  digest: string;
  sizeBytes: number;
  uncompressedBytes: number;
  buildMs: number;
  pushMs: number;
}

describe('the reference model (examples/model-runner) on a Podman node', { timeout: 300_000, skip: skip || (onX64 ? false : 'the image is linux/amd64') }, () => {
  let lab: ModelLab;
  let dir: string;
  let registry: TestRegistry;
  let engine: PodmanEngine;
  let config: Config;

  before(async () => {
    lab = await startModelLab('edgefleet-reference-model-');
    ({ dir, registry, engine, config } = lab);
  });

  after(async () => {
    await lab?.close();
  });

  it('trains, packages, pushes, deploys; the database holds its latencies and the accuracy training reported', async () => {
    // Train into a scratch folder: deterministic, so it reproduces the committed report.
    const out = join(dir, 'model');
    const trained = await run(process.execPath, [join(RUNNER, 'train.js'), '--out', out], { cwd: RUNNER });
    const report = JSON.parse(readFileSync(join(out, 'accuracy.json'), 'utf8')) as TrainReport;
    assert.ok(report.test === 30 && report.accuracy > 0.85 && report.onnxMaxAbsDiff < 1e-5, trained.stdout);
    const committed = join(RUNNER, 'accuracy.json');
    if (existsSync(committed)) assert.equal(report.accuracy, (JSON.parse(readFileSync(committed, 'utf8')) as TrainReport).accuracy, 'training is deterministic: the committed accuracy.json');

    const packaged = JSON.parse((await run(process.execPath, [join(RUNNER, 'package-image.js'), '--registry', registry.url, '--repository', REPO, '--tag', 'v1', '--model-dir', out], { cwd: RUNNER, maxBuffer: 1 << 20 })).stdout) as Packaged;
    assert.match(packaged.digest, /^sha256:[0-9a-f]{64}$/);

    const inventory = inventoryNodes(config);
    const db = openDb(config.db);
    const pool = new TransportPool({ knownHostsFile: config.ssh.knownHostsFile, acceptNewHostKeys: false, privateKeyFile: '', agentSocket: '', user: 'root', connectTimeoutMs: 3000 });
    try {
      syncNodes(db, inventory, Math.floor(Date.now() / 1000));
      const t0 = performance.now();
      const d = await createDeployment(
        { db, config, inventory },
        parseDeployRequest({ image: `${REPO}:v1`, nodes: [inventory[0]!.name], options: { env: { MODEL_MODE: 'single-stream', MODEL_INTERVAL_MS: '5' } } }, { registries: ['lab'] }),
      );
      const summary = await runDeployment({ db, config, pool, log: silentLogger, inventory }, d.id);
      const deployMs = Math.round(performance.now() - t0);
      assert.equal(summary.status, 'succeeded', JSON.stringify(summary.nodes));

      // Collect until every held-out row is in (the runner then idles).
      const deadline = Date.now() + 60_000;
      let stored = 0;
      while (stored < report.test && Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, 300));
        const c = await collectInference({ db, config, pool, log: silentLogger, inventory });
        assert.equal(c.failed.length, 0, JSON.stringify(c.failed));
        stored = (db.prepare(`SELECT COUNT(*) AS n FROM inference WHERE deployment_id = ?`).get(d.id) as { n: number }).n;
      }
      const collectMs = Math.round(performance.now() - t0) - deployMs;
      assert.equal(stored, report.test, `every held-out row once (container: ${engine.podman(['logs', '--tail', '5', summary.nodes[0]!.containerId!]).slice(-800)})`);

      const [s] = await inferenceStats(db, { fromUnixSeconds: 0, toUnixSeconds: Math.floor(Date.now() / 1000) + 60 });
      assert.ok(s);
      assert.equal(s.model, REPO);
      assert.equal(s.count, report.test);
      assert.equal(s.errors, 0);
      assert.equal(s.withExpected, report.test);
      assert.equal(s.correct, report.correct);
      assert.equal(s.accuracy, report.accuracy, 'accuracy in the database = accuracy training reported');
      const lat = db.prepare(`SELECT MIN(latency_ms) AS lo, MAX(latency_ms) AS hi, MIN(infer_ms) AS ilo FROM inference WHERE deployment_id = ?`).get(d.id) as { lo: number; hi: number; ilo: number };
      assert.ok(lat.lo > 0 && lat.hi < 1000, `latencies ${lat.lo}..${lat.hi} ms`);
      assert.ok(lat.ilo > 0);
      const pct = s.latencyMs;
      assert.ok(pct && pct.p50 > 0 && pct.p99 < 1000, JSON.stringify(pct));
      console.log(
        `reference model: accuracy ${report.correct}/${report.test} = ${report.accuracy}; image ${(packaged.sizeBytes / 1e6).toFixed(1)} MB compressed, ${(packaged.uncompressedBytes / 1e6).toFixed(1)} MB uncompressed; ` +
          `build ${packaged.buildMs} ms, push ${packaged.pushMs} ms, deploy (pull + start) ${deployMs} ms, first collection of all rows ${collectMs} ms; p50 ${pct.p50} ms p99 ${pct.p99} ms; cold start ${s.coldStartMs} ms`,
      );
    } finally {
      await pool.closeAll();
      db.close();
    }
  });
});
