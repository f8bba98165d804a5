/**
 * Image pull progress over SSM, live: SSM returns a command's output only when it ends, so the
 * pull runs in the background on the instance and follow-up commands bring its progress. Real
 * parts: docker-registry behind a proxy that sends blobs at 128 KiB/s (a pull of seconds, whose
 * end the proxy notes), a Podman engine, the local SSM server running each command.
 */
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { inventoryNodes } from '../shared/collect/collection.js';
import { loadConfig, type Config } from '../shared/config/config.js';
import { createDeployment, parseDeployRequest, runDeployment, type DeployDeps } from '../shared/deploy/index.js';
import { silentLogger } from '../shared/domain/index.js';
import { deploymentEvents, openDb, type Db } from '../shared/store/index.js';
import { TransportPool } from '../shared/transport/pool.js';
import { pushModelImage, startPodman, type PodmanEngine } from './harness/podman.js';
import { startRegistry, type TestRegistry } from './harness/registry.js';
import { startSlowProxy, type SlowProxy } from './harness/slowProxy.js';
import { managedInstanceId, startSsmServer, type SsmServer } from './harness/ssmServer.js';

const INSTANCE = managedInstanceId(0xd7);
const SAVED_ENV = { ...process.env };
const RATE_BYTES_PER_SECOND = 128 * 1024;

/** Processes still running the pull's curl against this engine (its cmdline names the socket). */
function curlsFor(socketPath: string): string[] {
  const found: string[] = [];
  for (const pid of readdirSync('/proc').filter((p) => /^\d+$/.test(p))) {
    let cmd = '';
    try {
      cmd = readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0/g, ' ');
    } catch {
      continue;
    }
    if (cmd.includes('curl') && cmd.includes(socketPath)) found.push(`${pid}: ${cmd.slice(0, 120)}`);
  }
  return found;
}

describe('image pull progress over SSM', { timeout: 120_000 }, () => {
  let dir: string;
  let nodeTmp: string;
  let registry: TestRegistry;
  let proxy: SlowProxy;
  let engine: PodmanEngine;
  let ssm: SsmServer;
  let config: Config;
  let db: Db;
  let pool: TransportPool;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'edgefleet-ssmpull-'));
    nodeTmp = join(dir, 'node-tmp');
    mkdirSync(nodeTmp);
    registry = await startRegistry();
    proxy = await startSlowProxy(registry.url, RATE_BYTES_PER_SECOND);
    engine = await startPodman({ insecureRegistries: [new URL(proxy.url).host] });
    const sleeper = ['sh', '-c', 'trap "exit 0" TERM; sleep 3600 & wait'];
    // Two layers: busybox (about 1 MB gzipped) and 1 MB of weights: about 8 s at the proxy's rate.
    await pushModelImage(registry.push, 'lab/detector', 'v1', { entrypoint: sleeper, weightsBytes: 1 << 20 });
    // 4 MB of weights: 32 s, far past a 3 s deadline.
    await pushModelImage(registry.push, 'lab/big', 'v1', { entrypoint: sleeper, weightsBytes: 4 << 20 });
    ssm = await startSsmServer({ instances: [{ id: INSTANCE, root: dir, env: { ...(process.env as Record<string, string>), TMPDIR: nodeTmp } }], visibilityDelayMs: 100, pendingMs: 50 });
    Object.assign(process.env, ssm.env, { AWS_CONFIG_FILE: join(dir, 'none'), AWS_SHARED_CREDENTIALS_FILE: join(dir, 'none'), AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true' });
    delete process.env.AWS_PROFILE;
    writeFileSync(join(dir, 'inventory.ini'), `[edge]\nedge-ssm ansible_connection=aws_ssm ansible_aws_ssm_instance_id=${INSTANCE} edgefleet_engine_socket=${engine.socketPath} edgefleet_network_mode=host\n`);
    writeFileSync(
      join(dir, 'edgefleet.yaml'),
      ['inventory: inventory.ini', 'db: edgefleet.db', 'deploy:', '  graceSeconds: 1', '  stopTimeoutSeconds: 2', '  pullTimeoutSeconds: 60', 'registries:', '  - name: lab', `    url: ${proxy.url}`, '    insecure: true', ''].join('\n'),
    );
    config = loadConfig({ file: join(dir, 'edgefleet.yaml'), env: {} });
    db = openDb(config.db);
    pool = new TransportPool({ knownHostsFile: '', acceptNewHostKeys: false, privateKeyFile: '', agentSocket: '', user: 'root', connectTimeoutMs: 3000, ssmPoll: { pollInitialMs: 100, pollMaxMs: 200 } });
  });

  after(async () => {
    await pool?.closeAll();
    db?.close();
    await ssm?.close();
    await engine?.close().catch(() => rmSync(engine.dir, { recursive: true, force: true, maxRetries: 10, retryDelay: 200 }));
    await proxy?.close();
    await registry?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
    process.env = SAVED_ENV;
  });

  const deps = (c: Config): DeployDeps => ({ db, config: c, pool, log: silentLogger, inventory: inventoryNodes(c) });
  const deploy = async (c: Config, image: string) => runDeployment(deps(c), (await createDeployment(deps(c), parseDeployRequest({ image, nodes: ['edge-ssm'] }, { registries: ['lab'] }))).id);

  it('records progress while the pull runs, not all at its end', async () => {
    const s = await deploy(config, 'lab/detector:v1');
    assert.equal(s.status, 'succeeded', JSON.stringify(s.nodes));
    // The pull ended when the registry sent its last blob byte (the proxy's clock, not edgefleet's).
    const pullEndMs = Math.max(...proxy.blobEndsMs);
    const partial = (await deploymentEvents(db, s.id)).filter((e) => e.state === 'pulling' && e.progressPercent! > 0 && e.progressPercent! < 100 && e.timeUnixMs < pullEndMs);
    const times = new Set(partial.map((e) => e.timeUnixMs));
    assert.ok(times.size >= 2, `progress before the pull's end: ${JSON.stringify(partial)} (end ${pullEndMs})`);
    assert.deepEqual(readdirSync(nodeTmp), [], 'the pull’s files are removed from the node');
    assert.deepEqual(ssm.rejected, []);
  });

  it('a pull past its deadline fails the node with the reason and leaves no curl and no file on the instance', async () => {
    const short = { ...config, deploy: { ...config.deploy, pullTimeoutSeconds: 3 } };
    const t = Date.now();
    const s = await deploy(short, 'lab/big:v1');
    assert.equal(s.status, 'failed');
    assert.match(s.nodes[0]!.error!, /pull .*lab\/big:v1.*(no end after|within) 3000 ms/);
    assert.ok(Date.now() - t < 10_000, `failed after ${Date.now() - t} ms`);
    // The stop is one more SSM command: give it a few seconds.
    const until = Date.now() + 10_000;
    while ((curlsFor(engine.socketPath).length || readdirSync(nodeTmp).length) && Date.now() < until) await new Promise((r) => setTimeout(r, 200));
    assert.deepEqual(curlsFor(engine.socketPath), []);
    assert.deepEqual(readdirSync(nodeTmp), []);
  });
});
