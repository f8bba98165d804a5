/**
 * The inference log path with real parts: a model image (static busybox printing the protocol,
 * with garbage between) pushed to Debian's docker-registry, deployed by edgefleet to a Podman
 * test node over SSH, its stdout collected through the engine API into the database. Midway the
 * "hub" restarts (store, pool and process state thrown away) and the container restarts (same
 * id, the log goes on); at the end the rows must equal the protocol lines of the container's
 * whole log, none twice, and the garbage must be counted.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { inventoryNodes } from '../shared/collect/collection.js';
import { collectInference } from '../shared/collect/inference.js';
import { inferenceStats } from '../shared/collect/inferenceStats.js';
import type { Config } from '../shared/config/config.js';
import { createDeployment, parseDeployRequest, runDeployment } from '../shared/deploy/index.js';
import { silentLogger } from '../shared/domain/index.js';
import { demuxStream, Engine, splitTimestampedLines } from '../shared/engine/index.js';
import { openDb, syncNodes } from '../shared/store/index.js';
import { TransportPool } from '../shared/transport/pool.js';
import { pushModelImage, type PodmanEngine } from './harness/podman.js';
import type { TestRegistry } from './harness/registry.js';
import { startModelLab, type ModelLab } from './harness/modelLab.js';

const REPO = 'lab/echo-model';
const LINES = 200;
// 200 inferences, 10 ms apart, label right 3 times in 4, a garbage line every 10th; then idle.
const SCRIPT = [
  'trap "exit 0" TERM',
  'i=0',
  `while [ $i -lt ${LINES} ]; do`,
  '  l=a; [ $((i % 4)) = 0 ] && l=b',
  '  echo "{\\"latency_ms\\":$((i % 17)).25,\\"input_id\\":\\"$i\\",\\"label\\":\\"$l\\",\\"expected\\":\\"a\\",\\"score\\":4.78e-05}"',
  '  [ $((i % 10)) = 3 ] && echo "garbage line $i"',
  '  i=$((i + 1)); usleep 10000',
  'done',
  'sleep 3600 & wait',
].join('\n');

describe('inference collection from a Podman node over SSH', { timeout: 240_000 }, () => {
  let lab: ModelLab;
  let registry: TestRegistry;
  let engine: PodmanEngine;
  let config: Config;
  const newPool = () => new TransportPool({ knownHostsFile: config.ssh.knownHostsFile, acceptNewHostKeys: false, privateKeyFile: '', agentSocket: '', user: 'root', connectTimeoutMs: 3000 });

  before(async () => {
    lab = await startModelLab('edgefleet-inference-e2e-');
    ({ registry, engine, config } = lab);
    await pushModelImage(registry.push, REPO, 'v1', { entrypoint: ['sh', '-c', SCRIPT] });
  });

  after(async () => {
    await lab?.close();
  });

  it('stores every protocol line once across a hub restart and a container restart, counting the garbage', async () => {
    const inventory = inventoryNodes(config);
    let db = openDb(config.db);
    let pool = newPool();
    syncNodes(db, inventory, Math.floor(Date.now() / 1000));
    const d = await createDeployment({ db, config, inventory }, parseDeployRequest({ image: `${REPO}:v1`, nodes: [inventory[0]!.name] }, { registries: ['lab'] }));
    const summary = await runDeployment({ db, config, pool, log: silentLogger, inventory }, d.id);
    assert.equal(summary.status, 'succeeded', JSON.stringify(summary.nodes));
    const containerId = summary.nodes[0]!.containerId!;

    // Mid-run: one collection, then the hub "restarts".
    const first = await collectInference({ db, config, pool, log: silentLogger, inventory });
    assert.equal(first.failed.length, 0, JSON.stringify(first.failed));
    assert.ok(first.inferences > 0 && first.inferences < LINES, `mid-run: ${first.inferences}`);
    await pool.closeAll();
    db.close();
    db = openDb(config.db);
    pool = newPool();

    // The container restarts (same id): it prints its LINES again into the same log.
    const eng = new Engine(pool.get(inventory[0]!), engine.socketPath);
    await new Promise((r) => setTimeout(r, 500));
    await eng.stop(containerId, 2);
    await eng.start(containerId);
    await collectInference({ db, config, pool, log: silentLogger, inventory });
    await new Promise((r) => setTimeout(r, LINES * 10 + 3000));
    await collectInference({ db, config, pool, log: silentLogger, inventory });
    await collectInference({ db, config, pool, log: silentLogger, inventory });

    // The truth: the container's whole stdout, read independently of the cursor.
    const answer: Buffer[] = [];
    for await (const chunk of eng.logStream(containerId, { sinceUnixSeconds: 0 })) answer.push(chunk);
    const whole = splitTimestampedLines(demuxStream(Buffer.concat(answer), 1)).lines.map((l) => l.text);
    const protocol = whole.filter((t) => t.startsWith('{'));
    const garbage = whole.filter((t) => t.startsWith('garbage'));
    assert.ok(protocol.length > LINES, `the log holds both runs: ${protocol.length}`);
    const rows = db.prepare(`SELECT COUNT(*) AS n, COUNT(DISTINCT line_key) AS k FROM inference WHERE deployment_id = ?`).get(d.id) as { n: number; k: number };
    assert.equal(rows.n, protocol.length, 'rows = protocol lines in the log');
    assert.equal(rows.k, rows.n);
    const cur = db.prepare(`SELECT lines_read, ignored_lines FROM inference_cursors WHERE deployment_id = ?`).get(d.id) as { lines_read: number; ignored_lines: number };
    assert.equal(cur.ignored_lines, garbage.length);
    assert.equal(cur.lines_read, whole.length);
    // 4.78e-05 arrived as 4.78e-05.
    assert.equal((db.prepare(`SELECT DISTINCT score FROM inference`).all() as { score: number }[]).map((r) => r.score).join(), '0.0000478');

    const [s] = await inferenceStats(db, { fromUnixSeconds: 0, toUnixSeconds: Math.floor(Date.now() / 1000) + 60 });
    assert.ok(s);
    assert.equal(s.count, protocol.length);
    // The first run was cut short by the restart: the truth is counted in the log itself.
    const right = protocol.filter((t) => (JSON.parse(t) as { label: string; expected: string }).label === 'a').length;
    assert.equal(s.accuracy, right / protocol.length);
    assert.ok(Math.abs(s.accuracy - 0.75) < 0.02);
    // Podman stamps log lines to the whole second: cold start is good to a second here.
    assert.ok(s.coldStartMs !== null && s.coldStartMs >= 0 && s.coldStartMs < 60_000, `cold start ${s.coldStartMs}`);
    assert.equal(s.logLines.ignored, garbage.length);
    await pool.closeAll();
    db.close();
  });
});
