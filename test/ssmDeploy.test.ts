/**
 * A model deployment to an SSM managed instance, real parts only: Debian's docker-registry,
 * a Podman API service as the instance's engine, the local SSM server (real
 * @aws-sdk/client-ssm, SigV4 checked) running each engine API request as the
 * `curl --unix-socket` command the transport sends. The states must be those of a deployment
 * over SSH (test/deploy.test.ts): running, replaced, rolled back; and the model's inference log
 * is read through the engine's (binary, multiplexed) log stream the same way.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { inventoryNodes } from '../shared/collect/collection.js';
import { loadConfig, type Config } from '../shared/config/config.js';
import { createDeployment, parseDeployRequest, runDeployment, type DeployDeps, type DeploymentSummary } from '../shared/deploy/index.js';
import { DEPLOY_LABELS, silentLogger } from '../shared/domain/index.js';
import { collectInference } from '../shared/collect/inference.js';
import { deploymentEvents, openDb, syncNodes, type Db } from '../shared/store/index.js';
import { TransportPool } from '../shared/transport/pool.js';
import { pushModelImage, startPodman, type PodmanEngine } from './harness/podman.js';
import { startRegistry, type TestRegistry } from './harness/registry.js';
import { managedInstanceId, startSsmServer, type SsmServer } from './harness/ssmServer.js';

const REPO = 'lab/detector';
const ECHO_REPO = 'lab/echo-model';
const INFERENCES = 20;
const INSTANCE = managedInstanceId(0xd3);
const SAVED_ENV = { ...process.env };

describe('deploy to a Podman engine over SSM', { timeout: 240_000 }, () => {
  let dir: string;
  let registry: TestRegistry;
  let engine: PodmanEngine;
  let ssm: SsmServer;
  let config: Config;
  let db: Db;
  let pool: TransportPool;
  let digests: Record<string, string>;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'edgefleet-ssmdeploy-'));
    registry = await startRegistry();
    engine = await startPodman({ insecureRegistries: [new URL(registry.url).host] });
    const sleeper = ['sh', '-c', 'trap "exit 0" TERM; sleep 3600 & wait'];
    const v1 = await pushModelImage(registry.push, REPO, 'v1', { entrypoint: sleeper, weightsBytes: 200_000 });
    const v2 = await pushModelImage(registry.push, REPO, 'v2', { entrypoint: sleeper, weightsBytes: 300_000 });
    const bad = await pushModelImage(registry.push, REPO, 'bad', { entrypoint: ['sh', '-c', 'echo model file missing >&2; exit 3'] });
    // 20 inferences (label right 3 times in 4) and 2 garbage lines, then idle.
    const echo = [
      'trap "exit 0" TERM', 'i=0',
      `while [ $i -lt ${INFERENCES} ]; do`,
      '  l=a; [ $((i % 4)) = 0 ] && l=b',
      '  echo "{\\"latency_ms\\":$((i + 1)).5,\\"input_id\\":\\"$i\\",\\"label\\":\\"$l\\",\\"expected\\":\\"a\\"}"',
      '  [ $((i % 10)) = 3 ] && echo "garbage line $i"',
      '  i=$((i + 1))',
      'done', 'sleep 3600 & wait',
    ].join('\n');
    await pushModelImage(registry.push, ECHO_REPO, 'v1', { entrypoint: ['sh', '-c', echo] });
    digests = { v1: v1.digest, v2: v2.digest, bad: bad.digest };
    ssm = await startSsmServer({ instances: [{ id: INSTANCE, root: dir }], visibilityDelayMs: 100, pendingMs: 50 });
    Object.assign(process.env, ssm.env, { AWS_CONFIG_FILE: join(dir, 'none'), AWS_SHARED_CREDENTIALS_FILE: join(dir, 'none'), AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true' });
    delete process.env.AWS_PROFILE;
    writeFileSync(join(dir, 'inventory.ini'), `[edge]\nedge-ssm ansible_connection=aws_ssm ansible_aws_ssm_instance_id=${INSTANCE} edgefleet_engine_socket=${engine.socketPath} edgefleet_network_mode=host\n`);
    writeFileSync(
      join(dir, 'edgefleet.yaml'),
      ['inventory: inventory.ini', 'db: edgefleet.db', 'deploy:', '  graceSeconds: 1', '  stopTimeoutSeconds: 2', '  pullTimeoutSeconds: 60', 'registries:', '  - name: lab', `    url: ${registry.url}`, '    insecure: true', ''].join('\n'),
    );
    config = loadConfig({ file: join(dir, 'edgefleet.yaml'), env: {} });
    db = openDb(config.db);
    pool = new TransportPool({ knownHostsFile: '', acceptNewHostKeys: false, privateKeyFile: '', agentSocket: '', user: 'root', connectTimeoutMs: 3000, ssmPoll: { pollInitialMs: 100, pollMaxMs: 200 } });
  });

  after(async () => {
    await pool?.closeAll();
    db?.close();
    await ssm?.close();
    // Under load a container's last files can still be going when the folder is removed: retry that.
    await engine?.close().catch(() => rmSync(engine.dir, { recursive: true, force: true, maxRetries: 10, retryDelay: 200 }));
    await registry?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
    process.env = SAVED_ENV;
  });

  const deps = (): DeployDeps => ({ db, config, pool, log: silentLogger, inventory: inventoryNodes(config) });
  const deploy = async (body: Record<string, unknown>): Promise<DeploymentSummary> => {
    const d = await createDeployment(deps(), parseDeployRequest(body, { registries: ['lab'] }));
    return runDeployment(deps(), d.id);
  };
  const running = () => engine.containers().filter((c) => c.state === 'running');
  const states = async (id: string) => (await deploymentEvents(db, id)).map((e) => e.state).filter((st, i, a) => st !== a[i - 1]);

  it('deploys: pulled with progress, created, started, verified, running — the states of SSH', async () => {
    const s = await deploy({ image: `${REPO}:v1`, nodes: ['edge-ssm'] });
    assert.equal(s.status, 'succeeded', JSON.stringify(s.nodes));
    assert.equal(s.digest, digests.v1);
    assert.deepEqual(await states(s.id), ['queued', 'pulling', 'creating', 'starting', 'verifying', 'running']);
    const pct = (await deploymentEvents(db, s.id)).filter((e) => e.state === 'pulling').map((e) => e.progressPercent!);
    assert.equal(pct.at(-1), 100);
    const [c, ...more] = running();
    assert.equal(more.length, 0);
    assert.equal(c!.labels[DEPLOY_LABELS.digest], digests.v1);
    // Through SSM for real: each engine request one command, every curl argument quoted.
    const curls = ssm.scripts(INSTANCE).filter((x) => x.includes("'curl' '-sS' '-i'"));
    assert.ok(curls.length >= 4, `${curls.length} engine requests went through SSM`);
    assert.ok(curls.some((x) => x.includes(`'--unix-socket' '${engine.socketPath}'`)));
    assert.deepEqual(ssm.rejected, []);
  });

  it('a new tag replaces the old container once the new one runs', async () => {
    const s = await deploy({ image: `${REPO}:v2`, nodes: ['edge-ssm'] });
    assert.equal(s.status, 'succeeded', JSON.stringify(s.nodes));
    // Host network: stop-first, as test/deploy.test.ts expects over SSH.
    assert.deepEqual(await states(s.id), ['queued', 'pulling', 'creating', 'stopping', 'starting', 'verifying', 'replacing', 'running']);
    assert.deepEqual(engine.containers().map((c) => [c.name, c.state]), [[`edgefleet-lab_detector-v2-${s.id}`, 'running']]);
  });

  it('a container that exits at once is rolled back with its reason; the old one keeps running', async () => {
    const before = running().map((c) => c.name);
    const s = await deploy({ image: `${REPO}:bad`, nodes: ['edge-ssm'], options: { restart: 'no' } });
    assert.equal(s.status, 'failed');
    assert.equal(s.nodes[0]!.state, 'rolled_back');
    assert.match(s.nodes[0]!.error!, /exited with code 3/);
    assert.match(s.nodes[0]!.error!, /model file missing/);
    assert.deepEqual(running().map((c) => c.name), before);
    assert.deepEqual(ssm.rejected, []);
  });

  it('reads a deployed model’s inference log through SSM: every protocol line once, garbage counted', async () => {
    const inventory = inventoryNodes(config);
    syncNodes(db, inventory, Math.floor(Date.now() / 1000));
    const s = await deploy({ image: `${ECHO_REPO}:v1`, nodes: ['edge-ssm'] });
    assert.equal(s.status, 'succeeded', JSON.stringify(s.nodes));
    await new Promise((r) => setTimeout(r, 1000));
    const first = await collectInference({ db, config, pool, log: silentLogger, inventory });
    assert.deepEqual(first.failed, []);
    const again = await collectInference({ db, config, pool, log: silentLogger, inventory });
    const rows = db.prepare('SELECT COUNT(*) AS n, SUM(label = expected) AS right FROM inference WHERE deployment_id = ?').get(s.id) as { n: number; right: number };
    assert.deepEqual(rows, { n: INFERENCES, right: (INFERENCES * 3) / 4 });
    assert.equal(first.ignored + again.ignored, 2);
    assert.equal(again.inferences, 0, 'nothing read twice');
  });
});
