/**
 * The inference log drained into PostgreSQL, all parts real: a model image (busybox awk printing
 * the protocol, garbage between) pushed to Debian's docker-registry, deployed by edgefleet to a
 * Podman node over SSH with a real PostgreSQL 15 as the store, and the container's stdout
 * drained through the engine API into it: once after its first run, once after a hub restart (store and pool
 * thrown away) and a container restart (same id: the log goes on, a second run), once more with
 * nothing new, and once with the cursors lost (line keys alone keep it exact).
 * The rows must equal the protocol lines of the container's whole log; `edgefleet inference
 * stats` must read them from PostgreSQL, with percentiles worked out here from the log itself.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { inventoryNodes } from '../shared/collect/collection.js';
import { collectInference } from '../shared/collect/inference.js';
import type { Config } from '../shared/config/config.js';
import { createDeployment, parseDeployRequest, runDeployment } from '../shared/deploy/index.js';
import { silentLogger } from '../shared/domain/index.js';
import { Engine, FrameDemuxer, splitTimestampedLines } from '../shared/engine/index.js';
import { openPgStore } from '../shared/store/pgStore.js';
import { TransportPool } from '../shared/transport/pool.js';
import { runCli } from './harness/cli.js';
import { startModelLab, type ModelLab } from './harness/modelLab.js';
import { pushModelImage } from './harness/podman.js';
import { postgresAvailable, startPostgres, type TestPostgres } from './harness/postgres.js';

const REPO = 'lab/pg-drain';
const LINES = 2500;
// Each run of the container: LINES protocol lines, a garbage line every 500th, a marker (not the
// protocol either), then idle.
const SCRIPT = [
  `awk 'BEGIN { for (i = 0; i < ${LINES}; i++) { printf "{\\"latency_ms\\":%d.5,\\"input_id\\":\\"%d\\",\\"label\\":\\"%s\\",\\"expected\\":\\"a\\"}\\n", i % 97, i, (i % 4 == 0) ? "b" : "a"; if (i % 500 == 7) print "garbage " i } }'`,
  'echo burst written',
  'trap "exit 0" TERM; sleep 3600 & wait',
].join('\n');

describe('inference drained into PostgreSQL from a Podman node over SSH', { timeout: 300_000, skip: postgresAvailable() ? false : 'no PostgreSQL 15 here' }, () => {
  let lab: ModelLab;
  let cluster: TestPostgres;
  let config: Config;
  const newPool = () => new TransportPool({ knownHostsFile: config.ssh.knownHostsFile, acceptNewHostKeys: false, privateKeyFile: '', agentSocket: '', user: 'root', connectTimeoutMs: 3000 });

  before(async () => {
    [lab, cluster] = await Promise.all([startModelLab('edgefleet-inference-pg-'), startPostgres()]);
    config = lab.config;
    await pushModelImage(lab.registry.push, REPO, 'v1', { entrypoint: ['sh', '-c', SCRIPT] });
  });

  after(async () => {
    await Promise.allSettled([lab?.close(), cluster?.close()]);
  });

  it('stores every protocol line once across two drains, a hub restart and lost cursors; inference stats reads it', async () => {
    const inventory = inventoryNodes(config);
    const url = cluster.createDatabase('drain');
    let store = await openPgStore(url);
    let pool = newPool();
    await store.syncNodes(inventory, Math.floor(Date.now() / 1000));
    const d = await createDeployment({ db: store.sql, config, inventory }, parseDeployRequest({ image: `${REPO}:v1`, nodes: [inventory[0]!.name], options: { graceSeconds: 0 } }, { registries: ['lab'] }));
    const summary = await runDeployment({ db: store.sql, config, pool, log: silentLogger, inventory }, d.id);
    assert.equal(summary.status, 'succeeded', JSON.stringify(summary.nodes));
    const containerId = summary.nodes[0]!.containerId!;

    let engine = new Engine(pool.get(inventory[0]!), lab.engine.socketPath);
    const waitForRun = async (n: number) => {
      const t0 = Date.now();
      while ((await engine.logsTail(containerId, n * (LINES + 10))).split('burst written').length - 1 < n) {
        if (Date.now() - t0 > 60_000) throw new Error(`the container did not finish run ${n}`);
        await new Promise((r) => setTimeout(r, 200));
      }
    };
    await waitForRun(1);
    const first = await collectInference({ db: store, config, pool, log: silentLogger, inventory });
    assert.deepEqual(first.failed, []);
    assert.equal(first.inferences, LINES);

    // The hub restarts (a fresh store and pool, nothing kept in memory) and the container too
    // (same id, its log goes on): its second run's lines come after the cursor.
    await store.close();
    await pool.closeAll();
    store = await openPgStore(url);
    pool = newPool();
    engine = new Engine(pool.get(inventory[0]!), lab.engine.socketPath);
    await engine.stop(containerId, 2);
    await engine.start(containerId);
    await waitForRun(2);
    const second = await collectInference({ db: store, config, pool, log: silentLogger, inventory });
    assert.deepEqual(second.failed, []);
    assert.equal(second.inferences, LINES);
    const third = await collectInference({ db: store, config, pool, log: silentLogger, inventory });
    assert.deepEqual([third.linesRead, third.inferences], [0, 0]);

    // The truth: the container's whole stdout, read independently of the cursor.
    const answer: Buffer[] = [];
    for await (const chunk of engine.logStream(containerId, { sinceUnixSeconds: 0 })) answer.push(chunk);
    // Podman may log a line in parts, each with its own timestamp: joined as the collector joins them.
    const whole = splitTimestampedLines(Buffer.concat(new FrameDemuxer(1, { timestamps: true }).push(Buffer.concat(answer)))).lines.map((l) => l.text);
    const protocol = whole.filter((t) => t.startsWith('{'));
    const garbage = whole.filter((t) => t.startsWith('garbage'));
    assert.equal(protocol.length, 2 * LINES);
    assert.equal(garbage.length, 10);
    const rows = await store.sql.get<{ n: number; k: number }>('SELECT COUNT(*) AS n, COUNT(DISTINCT line_key) AS k FROM inference WHERE deployment_id = ?', [d.id]);
    assert.deepEqual(rows, { n: protocol.length, k: protocol.length });
    const cur = await store.sql.get<{ read: number; ignored: number }>('SELECT lines_read AS "read", ignored_lines AS ignored FROM inference_cursors WHERE deployment_id = ?', [d.id]);
    // Not the protocol: the garbage and the marker of each run.
    assert.deepEqual(cur, { read: whole.length, ignored: garbage.length + 2 });

    // Cursors lost (a database restored from before them): the whole log is read again, and
    // every line's key is known.
    await store.sql.run('DELETE FROM inference_cursors');
    const again = await collectInference({ db: store, config, pool, log: silentLogger, inventory });
    assert.deepEqual([again.linesRead, again.inferences], [whole.length, 0]);
    assert.equal((await store.sql.get<{ n: number }>('SELECT COUNT(*) AS n FROM inference'))!.n, protocol.length);
    await store.close();
    await pool.closeAll();

    // The CLI reads PostgreSQL (EDGEFLEET_DB wins over the lab's SQLite file).
    const cli = await runCli(['inference', 'stats', '--since', '1h', '--json'], { cwd: lab.dir, env: { EDGEFLEET_CONFIG: `${lab.dir}/edgefleet.yaml`, EDGEFLEET_DB: url }, timeoutMs: 60_000 });
    assert.equal(cli.code, 0, cli.stderr);
    const [s, ...rest] = JSON.parse(cli.stdout) as { model: string; count: number; accuracy: number; latencyMs: Record<string, number>; deploymentIds: string[]; logLines: { ignored: number } }[];
    assert.equal(rest.length, 0);
    // From the log: latency (i mod 97) + 0.5; label wrong when i is a multiple of 4.
    const latencies = protocol.map((t) => (JSON.parse(t) as { latency_ms: number }).latency_ms).sort((a, b) => a - b);
    const rank = (p: number) => latencies[Math.ceil((p / 100) * latencies.length) - 1];
    const right = protocol.filter((t) => (JSON.parse(t) as { label: string }).label === 'a').length;
    assert.deepEqual(
      { model: s!.model, count: s!.count, accuracy: s!.accuracy, p50: s!.latencyMs.p50, p95: s!.latencyMs.p95, p99: s!.latencyMs.p99, deployments: s!.deploymentIds },
      { model: REPO, count: protocol.length, accuracy: right / protocol.length, p50: rank(50), p95: rank(95), p99: rank(99), deployments: [d.id] },
    );
    assert.equal(right, 2 * LINES * 0.75);
  });
});
